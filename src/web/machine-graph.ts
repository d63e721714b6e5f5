/**
 * The statecharts as data for the web page: states, their descriptions and transitions, read
 * from the machines' own definitions (machine.root's state nodes), with a small layered layout
 * of our own (states in rows by their distance from the initial state). A parallel machine
 * (the orchestrator) gives one region per parallel child. No layout library: the charts are a
 * few dozen states.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { cohortMachine } from '../../machines/cohort.machine.ts';
import { orchestratorMachine } from '../../machines/orchestrator.machine.ts';
import { shopperMachine } from '../../machines/shopper.machine.ts';

export interface GraphNode {
  /** The state's key inside its region (e.g. "browsing", "waiting"). */
  id: string;
  description: string | null;
  initial: boolean;
  final: boolean;
  /** Layout: row (distance from the initial state) and column within the row. */
  row: number;
  col: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** Event type, or "always" / "done" / "error" for eventless and invoke transitions. */
  event: string;
}

export interface GraphRegion {
  /** "" for a machine that is not parallel; else the region's key (cycle, control, breaker). */
  id: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  rows: number;
  cols: number;
}

export interface MachineGraph {
  id: string;
  description: string | null;
  regions: GraphRegion[];
}

function eventName(type: string): string {
  if (type === '') return 'always';
  if (type.startsWith('xstate.done.actor')) return 'done';
  if (type.startsWith('xstate.error.actor')) return 'error';
  return type;
}

function regionOf(id: string, parent: AnyStateNode): GraphRegion {
  const children = Object.values(parent.states) as AnyStateNode[];
  const keys = new Set(children.map((c) => c.key));
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  const addEdges = (from: AnyStateNode, node: AnyStateNode) => {
    const all: [string, readonly { target?: readonly AnyStateNode[] | undefined }[]][] = [...node.transitions, ['', node.always ?? []]];
    for (const [type, list] of all) {
      for (const t of list) {
        for (const target of t.target ?? []) {
          // Map a target to its ancestor that is a direct child of this region.
          let n: AnyStateNode | undefined = target;
          while (n && n.parent !== parent) n = n.parent;
          if (!n || !keys.has(n.key)) continue;
          const e = { from: from.key, to: n.key, event: eventName(type) };
          const k = `${e.from}>${e.to}>${e.event}`;
          if (!seen.has(k)) {
            seen.add(k);
            edges.push(e);
          }
        }
      }
    }
  };
  for (const c of children) addEdges(c, c);
  // Layered layout: longest path from the initial state over the edges that are not back edges
  // (found by a depth-first walk), so a flow reads top to bottom; unreached states go last.
  const initialKey = (parent.initial?.target?.[0] as AnyStateNode | undefined)?.key ?? children[0]?.key ?? '';
  const forward: GraphEdge[] = [];
  const onPath = new Set<string>();
  const done = new Set<string>();
  const walk = (k: string) => {
    onPath.add(k);
    for (const e of edges) {
      if (e.from !== k || e.from === e.to) continue;
      if (onPath.has(e.to)) continue; // back edge
      forward.push(e);
      if (!done.has(e.to)) walk(e.to);
    }
    onPath.delete(k);
    done.add(k);
  };
  walk(initialKey);
  const row = new Map<string, number>([[initialKey, 0]]);
  for (let changed = true, guard = 0; changed && guard < children.length + 1; guard++) {
    changed = false;
    for (const e of forward) {
      const r = (row.get(e.from) ?? -1) + 1;
      if (row.has(e.from) && r > (row.get(e.to) ?? -1)) {
        row.set(e.to, r);
        changed = true;
      }
    }
  }
  let maxRow = Math.max(0, ...row.values());
  for (const c of children) if (!row.has(c.key)) row.set(c.key, ++maxRow);
  const perRow = new Map<number, number>();
  const nodes: GraphNode[] = children.map((c) => {
    const r = row.get(c.key) as number;
    const col = perRow.get(r) ?? 0;
    perRow.set(r, col + 1);
    return { id: c.key, description: c.description ?? null, initial: c.key === initialKey, final: c.type === 'final', row: r, col };
  });
  return { id, nodes, edges, rows: maxRow + 1, cols: Math.max(1, ...perRow.values()) };
}

/** The graph of one machine. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root = machine.root as AnyStateNode;
  const regions =
    root.type === 'parallel' ? (Object.values(root.states) as AnyStateNode[]).map((r) => regionOf(r.key, r)) : [regionOf('', root)];
  return { id: machine.id, description: root.description ?? null, regions };
}

/** The three machines of a run, shopper first (the one the page counts occupancy on). */
export function runGraphs(): MachineGraph[] {
  return [machineGraph(shopperMachine), machineGraph(cohortMachine), machineGraph(orchestratorMachine)];
}
