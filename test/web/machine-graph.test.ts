import { describe, expect, it } from 'vitest';
import { shopperMachine } from '../../machines/shopper.machine.ts';
import { machineGraph, runGraphs } from '../../src/web/machine-graph.ts';

describe('the machine map data', () => {
  it("has every shopper state, with its description, and the shopper's transitions (eventless ones included)", () => {
    const g = machineGraph(shopperMachine);
    expect(g.regions).toHaveLength(1);
    const region = g.regions[0]!;
    expect(region.nodes.map((n) => n.id).sort()).toEqual(Object.keys(shopperMachine.root.states).sort());
    for (const n of region.nodes) expect(n.description, n.id).toBe(shopperMachine.root.states[n.id]?.description);
    expect(region.edges).toContainEqual({ from: 'idle', to: 'browsing', event: 'CYCLE' });
    expect(region.edges).toContainEqual({ from: 'planning', to: 'carting', event: 'always' });
    expect(region.edges).toContainEqual({ from: 'committing', to: 'idle', event: 'SESSION_COMMITTED' });
    // Layered: the initial state on top, and every forward step of the main flow one row lower or more.
    const row = Object.fromEntries(region.nodes.map((n) => [n.id, n.row]));
    expect(row['idle']).toBe(0);
    expect(row['browsing']!).toBeLessThan(row['carting']!);
    expect(row['carting']!).toBeLessThan(row['checkingOut']!);
    expect(row['checkingOut']!).toBeLessThan(row['committing']!);
  });

  it("gives the orchestrator one region per parallel region and the cohort's two states", () => {
    const [shopper, cohort, orchestrator] = runGraphs();
    expect(shopper?.id).toBe('shopper');
    expect(cohort?.regions[0]?.nodes.map((n) => n.id)).toEqual(['idle', 'running']);
    expect(orchestrator?.regions.map((r) => r.id)).toEqual(['cycle', 'control', 'breaker']);
    const control = orchestrator?.regions.find((r) => r.id === 'control');
    expect(control?.edges).toContainEqual({ from: 'running', to: 'paused', event: 'PAUSE' });
    expect(control?.edges).toContainEqual({ from: 'paused', to: 'running', event: 'RESUME' });
  });
});
