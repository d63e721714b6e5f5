/**
 * `--inspect [port]`: a loopback inspector relay plus the WebSocket inspector the actor tree
 * reports through, filtered to the orchestrator, the cohorts and a few shoppers. The same
 * helper serves `run` and `replay`: pass `inspect` as SimulationDeps.inspect.
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import type { InspectionEvent } from 'xstate';
import { inputError } from '../errors.ts';
import { createInspectFilter } from './filter.ts';
import { createLoopbackInspectorServer } from './server.ts';
import { serializeForInspector, trimForInspector } from './trim.ts';

export interface InspectorOptions {
  /** 0 picks a free port. */
  port: number;
  /** --inspect-agents: "ID,ID…", "all", or null for the default sample. */
  agents: string | null;
  /** The run's agent ids in order. */
  agentIds: string[];
  /** Shoppers streamed by default. */
  defaultSample?: number;
}

export interface InspectorHandle {
  url: string;
  wsUrl: string;
  port: number;
  /** The shoppers streamed (["all"] for every one). */
  agents: string[];
  /** SimulationDeps.inspect */
  inspect: (event: InspectionEvent) => void;
  close(): Promise<void>;
}

export const DEFAULT_INSPECT_SAMPLE = 3;

/** Parses --inspect-agents against the run's agents. */
export function inspectSample(agents: string | null, agentIds: string[], defaultSample = DEFAULT_INSPECT_SAMPLE): Set<string> | null {
  if (agents === null) return new Set(agentIds.slice(0, defaultSample));
  if (agents.trim().toLowerCase() === 'all') return null;
  const ids = agents.split(',').map((s) => s.trim()).filter(Boolean);
  const known = new Set(agentIds);
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw inputError(`--inspect-agents: expected ids of this run's agents (e.g. ${agentIds.slice(0, 3).join(',')}), got unknown ${unknown.slice(0, 5).join(', ')}`);
  }
  return new Set(ids);
}

export async function startInspector(options: InspectorOptions): Promise<InspectorHandle> {
  const sample = inspectSample(options.agents, options.agentIds, options.defaultSample);
  const server = await createLoopbackInspectorServer({ port: options.port });
  // Contexts and events bounded (personas, init inputs, long arrays trimmed: src/inspect/trim.ts).
  const inspector = createWebSocketInspector({ url: server.wsUrl, sanitizeContext: trimForInspector, sanitizeEvent: trimForInspector, serialize: serializeForInspector as never });
  const keep = createInspectFilter(sample);
  return {
    url: server.pageUrl,
    wsUrl: server.wsUrl,
    port: server.port,
    agents: sample === null ? ['all'] : [...sample],
    inspect(event) {
      if (keep(event)) inspector.inspect.next?.(event);
    },
    async close() {
      // Let the last queued events (sent on a zero timeout) go out before closing.
      await new Promise((r) => setTimeout(r, 50));
      inspector.stop();
      await server.close();
    },
  };
}
