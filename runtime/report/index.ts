/** Public surface of reporting: the run's report.html, its charts, and the experiment table. */
export * from './charts.js';
export * from './html.js';
export * from './table.js';
export * from './compare.js';
