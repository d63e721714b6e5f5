/**
 * The first thing `shopsim run` prints, terminal or not (on stderr, so stdout stays the summary
 * or `--json`): what runs, against what, where it writes, and how to steer it. A pure renderer:
 * the caller gathers the facts (no secrets: URLs arrive redacted) and prints the lines.
 */

export interface BannerFacts {
  runId: string;
  agents: number;
  cycles: number;
  /** Simulated start and end, ISO-8601. */
  simStart: string;
  simEnd: string;
  /** Real seconds the run is paced to take; null with --fast (no pacing). */
  realSeconds: number | null;
  timeScale: number;
  /** The checkpoint a resume continues and its cycle, or null. */
  resumeFrom: { file: string; cycle: number } | null;
  store: string;
  database: string;
  checkpoints: string;
  logs: string;
  inspector: string | null;
  pid: number;
  /** Keys are read (a terminal): the controls are keys, else signals. */
  keys: boolean;
  /** SIGUSR1/SIGUSR2 exist (not on Windows). */
  userSignals: boolean;
}

/** "2 h 30 min", "45 s", "3 d 4 h". */
export function formatSpan(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const min = Math.round(seconds / 60);
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
  const d = Math.floor(h / 24);
  return `${d} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

export function renderBanner(f: BannerFacts): string[] {
  const simSpan = formatSpan(f.cycles * 3600);
  const real = f.realSeconds === null ? 'as fast as possible (--fast)' : `about ${formatSpan(f.realSeconds)} real time at --time-scale ${f.timeScale}`;
  const lines = [
    `shopsim run ${f.runId}${f.resumeFrom ? ` (resuming at cycle ${f.resumeFrom.cycle} from ${f.resumeFrom.file})` : ''}`,
    `  agents       ${f.agents}`,
    `  cycles       ${f.cycles} simulated hours (${simSpan}: ${f.simStart.slice(0, 16).replace('T', ' ')} → ${f.simEnd.slice(0, 16).replace('T', ' ')} UTC), ${real}`,
    `  store        ${f.store}`,
    `  database     ${f.database}`,
    `  checkpoints  ${f.checkpoints}`,
    `  logs         ${f.logs}`,
  ];
  if (f.inspector) lines.push(`  inspector    ${f.inspector}`);
  if (f.keys) {
    lines.push(`  control      pid ${f.pid}; keys: p pause · r resume · c checkpoint · s stats · q quit (checkpoint and exit)`);
  } else {
    const usr = f.userSignals ? ` · kill -USR1 ${f.pid} checkpoint · kill -USR2 ${f.pid} pause/resume` : '';
    lines.push(`  control      pid ${f.pid}; kill -TERM ${f.pid} stops with a checkpoint${usr}`);
  }
  return lines;
}
