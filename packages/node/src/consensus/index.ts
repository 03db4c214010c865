// The consensus driver and the double-sign guard it signs through. The wire codec (messages.ts)
// and the byzantine test fault (byzantine.ts) are the subsystem's own.
export * from './driver.js';
export * from './signer.js';
