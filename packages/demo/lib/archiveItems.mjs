/**
 * The demo API's "archive": a few fixed observation records, the kind of thing a VO/TAP client would list.
 */

/** @type {ReadonlyArray<Readonly<{id: string, title: string, instrument: string, date: string}>>} */
export const ARCHIVE_ITEMS = Object.freeze([
  Object.freeze({ id: 'obs-0001', title: 'M31 deep field, R band', instrument: 'WFC', date: '2024-10-02' }),
  Object.freeze({ id: 'obs-0002', title: 'NGC 1300 spectral cube', instrument: 'IFU', date: '2024-11-17' }),
  Object.freeze({ id: 'obs-0003', title: 'Crab Nebula polarimetry', instrument: 'POL', date: '2025-01-09' })
]);
