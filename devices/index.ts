// The device protocol in one import: kinds, payload decoding, commands and the topic layout.
export * from './kinds.js';
export * from './commands.js';
export * from './topics.js';
