// Conformance suites of @causeway/platform ports. They use jest globals: import them from specs only.
export * from './command-status-store.conformance';
export * from '../read-models/trainer-positions.conformance';
export * from '../read-models/group-members.conformance';
export * from '../notifications/notification-log.conformance';
export * from '../auth/token-revocations.conformance';
export * from '../progress/progress-statuses.conformance';
