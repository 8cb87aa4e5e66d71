export * from './system.topology';
export * from './system.launcher';
export * from './edge.proxy';
export * from './app.settings';
export * from './port.check';
export * from './cli.options';
export * from './launcher.run';
