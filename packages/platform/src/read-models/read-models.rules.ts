import { type GroupMembers } from './group-members.port';
import { type TrainerPosition } from './trainer-positions.port';

// What the read-model stores check before they write (not exported from the package).

/**
 * Throws a TypeError naming the first malformed field of a row `TrainerPositions.apply` was
 * given (and its trainer): a trainerId that is not a non-empty string, a version that is not a
 * non-negative safe integer, a coordinate, speed or time that is not a finite number, an
 * isMoving that is not a boolean, groups that are not an array of strings. Every store calls it
 * before it writes: Redis stored NaN as `null` (a version of `null` then failed every later
 * apply of the trainer), MongoDB refused with a cast error, memory kept it.
 */
export function checkPositionRow(row: TrainerPosition): void {
  const refuse = (field: string, rule: string, value: unknown) => {
    const trainer =
      typeof row?.trainerId === 'string' && row.trainerId !== ''
        ? ` (trainer ${JSON.stringify(row.trainerId)})`
        : '';
    throw new TypeError(
      `TrainerPositions.apply: ${field} must be ${rule}, got ${shown(value)}${trainer}`,
    );
  };
  if (typeof row !== 'object' || row === null) refuse('the row', 'an object', row);
  if (typeof row.trainerId !== 'string' || row.trainerId === '')
    refuse('trainerId', 'a non-empty string', row.trainerId);
  if (!isVersion(row.version)) refuse('version', 'a non-negative safe integer', row.version);
  for (const field of ['x', 'y', 'dirX', 'dirY', 'speed', 'startedAt', 'updatedAt'] as const)
    if (typeof row[field] !== 'number' || !Number.isFinite(row[field]))
      refuse(field, 'a finite number', row[field]);
  if (typeof row.isMoving !== 'boolean') refuse('isMoving', 'a boolean', row.isMoving);
  if (
    row.groups !== undefined &&
    (!Array.isArray(row.groups) || row.groups.some((group) => typeof group !== 'string'))
  )
    refuse('groups', 'an array of strings when present', row.groups);
}

/** A stream version a read model can compare: a non-negative safe integer. */
function isVersion(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A value as an error shows it: strings quoted ('1' and 1 differ), arrays and objects as JSON. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

/** A change GroupMembers.apply takes. */
type MembershipChange = Parameters<GroupMembers['apply']>[0];

/**
 * Throws a TypeError naming the first malformed field of a change `GroupMembers.apply` was
 * given: a trainerId or groupId that is not a non-empty string, an action that is neither
 * 'join' nor 'leave' (Redis took any other word for a leave), a version that is not a
 * non-negative safe integer (Redis stored NaN, and every later change of the pair then failed).
 * Every store calls it before it writes.
 */
export function checkMembershipChange(change: MembershipChange): void {
  const refuse = (field: string, rule: string, value: unknown) => {
    throw new TypeError(`GroupMembers.apply: ${field} must be ${rule}, got ${shown(value)}`);
  };
  if (typeof change !== 'object' || change === null) refuse('the change', 'an object', change);
  for (const field of ['trainerId', 'groupId'] as const)
    if (typeof change[field] !== 'string' || change[field] === '')
      refuse(field, 'a non-empty string', change[field]);
  if (change.action !== 'join' && change.action !== 'leave')
    refuse('action', '"join" or "leave"', change.action);
  if (!isVersion(change.version)) refuse('version', 'a non-negative safe integer', change.version);
}
