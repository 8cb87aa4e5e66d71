import { type Priority } from '../../messages/envelope';

export const LANES: readonly Priority[] = ['critical', 'high', 'normal', 'low'];
/** Share of deliveries each lane gets while all lanes are busy: higher first, low never starved. */
export const LANE_WEIGHTS: Readonly<Record<Priority, number>> = {
  critical: 8,
  high: 4,
  normal: 2,
  low: 1,
};

export function laneOf(priority: unknown): Priority {
  return priority === 'critical' || priority === 'high' || priority === 'low' ? priority : 'normal';
}

/**
 * Smooth weighted choice between lanes: each call picks the highest-priority non-empty lane that
 * still has credit; credits refill when every non-empty lane has spent its own. With all lanes
 * busy, out of 15 deliveries critical gets 8, high 4, normal 2 and low 1.
 */
export class LaneScheduler {
  private readonly credits: Record<Priority, number> = { ...LANE_WEIGHTS };

  /** `ready(lane)` tells whether the lane has a deliverable message now. No allocation: runs per delivery. */
  next(ready: (lane: Priority) => boolean): Priority | undefined {
    let first: Priority | undefined;
    for (const lane of LANES) {
      if (!ready(lane)) continue;
      first ??= lane;
      if (this.credits[lane] > 0) {
        this.credits[lane] -= 1;
        return lane;
      }
    }
    if (!first) return undefined;
    for (const lane of LANES) this.credits[lane] = LANE_WEIGHTS[lane];
    this.credits[first] -= 1;
    return first;
  }
}
