/**
 * The decider (Emmett style): three pure functions. No I/O, no clock, no randomness inside —
 * time and ids come in through the command (its metadata), so the same history and command
 * always give the same events. The command handler does the I/O around it (read stream ->
 * fold with `evolve` -> `decide` -> append with the expected version).
 *
 * Hazards:
 * - `evolve` must not throw for an event that was once stored: it is history. Validate in `decide`.
 * - `evolve` must return a state for every event, those of types it does not handle too (a
 *   `default: return state` branch): a switch without one returns undefined for a type added
 *   or renamed later, and every later step sees no state.
 * - `evolve` must not mutate `state` when snapshots or retries are used: return a new state.
 * - `decide` may run more than once for one command (retry on conflict): it must be pure.
 */
export interface Decider<Command, Event, State> {
  /** Events the command produces in `state`; throws a domain error to refuse it. */
  decide(command: Command, state: State): Event | readonly Event[];
  /** The state after `event`. */
  evolve(state: State, event: Event): State;
  /** The state of a stream with no events. */
  initialState(): State;
}

/** Folds events over `state` (default: the initial state). */
export function foldEvents<Event, State>(
  decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>,
  events: Iterable<Event>,
  state: State = decider.initialState(),
): State {
  let current = state;
  for (const event of events) current = decider.evolve(current, event);
  return current;
}

/**
 * `decide`, normalised to an array.
 * @throws TypeError when `decide` returned undefined or null (a `switch` without a `return`
 *   for the command's type, typically), instead of failing later on the missing event
 */
export function decideEvents<Command, Event, State>(
  decider: Pick<Decider<Command, Event, State>, 'decide'>,
  command: Command,
  state: State,
): Event[] {
  const result = decider.decide(command, state);
  if (result === undefined || result === null)
    throw new TypeError(
      `decide returned ${String(result)} for command ` +
        `${String((command as { type?: unknown } | null)?.type)}; return [] for no events`,
    );
  return Array.isArray(result) ? [...(result as readonly Event[])] : [result as Event];
}
