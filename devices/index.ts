// The device protocol in one import: kinds, payload decoding and the topic layout.
export * from './kinds.js';
export * from './topics.js';
