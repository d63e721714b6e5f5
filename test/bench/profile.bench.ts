/**
 * Profiles (issue 16): `npx tsx test/bench/profile.bench.ts`. One JSON object per line.
 *  - profile-week: 372 agents × 168 cycles (one simulated week), mock mode, seed 42, per profile:
 *    the rates, the weekday daytime share of agents active (target ~40%), the busiest cycle's
 *    request count (target ≈ 900 under retail) and what it needs at
 *    time-scale 48 (a cycle every 75 s) against the default --rate-limit of 50 req/s. The count
 *    depends on the decisions only, not on pacing, so the fast run gives the paced run's count.
 *  - calibrate: `calibrate` at 372 agents × 7 days, from the retail generator to flash-sale's
 *    targets (it has to move every parameter), and on retail as shipped (already inside).
 */
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { calibrateProfile, measureProfile } from '../../src/run/calibrate.ts';
import { loadProfile } from '../../src/run/load-data.ts';

const personas = generatePersonas(372, 42);
const products = generateProducts(240, 42);
const cycleSeconds = 3600 / 48;

for (const name of ['retail', 'seed', 'flash-sale']) {
  const m = await measureProfile(loadProfile(name), { personas, products, days: 7 });
  console.log(JSON.stringify({
    bench: 'profile-week',
    profile: name,
    agents: personas.length,
    cycles: 168,
    busiest_cycle: m.busiestCycle.cycle,
    busiest_cycle_requests: m.busiestCycle.requests,
    busiest_cycle_sessions: m.busiestCycle.sessions,
    req_per_s_needed_at_time_scale_48: Math.round((m.busiestCycle.requests / cycleSeconds) * 10) / 10,
    sessions: m.sessions,
    requests: m.requests,
    calls_per_session: Math.round((m.requests / m.sessions) * 100) / 100,
    peak_active_share: Math.round(m.rates.peak_active_share * 1000) / 1000,
    weekday_daytime_share: Math.round(m.weekdayDaytimeShare * 1000) / 1000,
    rates: Object.fromEntries(Object.entries(m.rates).map(([k, v]) => [k, Math.round(v * 10_000) / 10_000])),
    curve_distance: Math.round(m.curveDistance * 10_000) / 10_000,
    seconds: Math.round(m.seconds * 100) / 100,
  }));
}

const retail = loadProfile('retail');
const flash = loadProfile('flash-sale');
for (const [label, profile] of [['flash-sale from the retail generator', { ...flash, generator: retail.generator }], ['retail as shipped', retail]] as const) {
  const r = await calibrateProfile(profile, { personas, products, days: 7 });
  console.log(JSON.stringify({ bench: 'calibrate', start: label, agents: 372, days: 7, ok: r.ok, rounds: r.rounds, seconds: Math.round(r.seconds * 100) / 100, seconds_per_round: Math.round((r.seconds / r.rounds) * 100) / 100 }));
}
