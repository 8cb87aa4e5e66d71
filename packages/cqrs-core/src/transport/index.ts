export * from './transport.port';
export * from './transport.errors';
export * from './subscribe-options.check';
export * from './topic.naming';
export * from './wire.codec';
export * from './topic-routed.publisher';
export * from './poison.warning';
export * from './in-memory/in-memory.transport';
export { LANES, LANE_WEIGHTS, LaneScheduler, laneOf } from './in-memory/priority.lanes';
