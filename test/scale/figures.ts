/** The figures two runs of the same seed must share, whatever ran their cohorts. */
import type { RunSummary } from '../../src/model/run.ts';

export function figuresOf(s: RunSummary) {
  return { digest: s.digest, sessions: s.sessions_created, checkouts: s.checkouts_completed, requests: s.requests, revenue: s.revenue_cents, failed: s.sessions_failed, coupons: s.coupons_applied, offers: s.offers_assigned };
}
