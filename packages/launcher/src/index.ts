export * from './system.topology';
export * from './system.launcher';
