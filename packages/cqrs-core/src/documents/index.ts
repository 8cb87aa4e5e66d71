export * from './json.document';
export * from './merge-patch';
export * from './document.collection';
export * from './document.errors';
export * from './document.store';
export * from './document.projection';
