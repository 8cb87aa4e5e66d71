export * from './system.topology';
export * from './system.launcher';
export * from './edge.proxy';
export * from './app.settings';
