// Public surface of @iocpscope/protocol. Imports nothing internal, no node:*, no DOM.
export * from './events.ts';
export * from './record.ts';
export * from './errors.ts';
export * from './strings.ts';
export * from './crc32.ts';
export * from './store.ts';
export * from './frames.ts';
export * from './header.ts';
export * from './file.ts';
export * from './tracer-stream.ts';
export * from './query.ts';
export * from './control.ts';
export * from './export-chrome.ts';
