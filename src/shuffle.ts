/**
 * `plasmapool/shuffle`: hash-partition Arrow tables across the stores of a cluster and gather each
 * partition zero-copy, plus the helpers the demo and the notebook use (datasets, verification,
 * reports). Reading Parquet needs the optional package `parquet-wasm`; the flights data needs
 * `vega-datasets`; the `plasmapool shuffle` progress bar needs `cli-progress`.
 *
 * @packageDocumentation
 */
export {
  mapToStore,
  gatherPartition,
  readManifests,
  deleteShuffleJob,
  ShufflePartitionMissingError,
  SHUFFLE_MANIFEST_METADATA,
} from './arrow/shuffle.js';
export type { MapOptions, MapResult, MapTimings, MapperManifest, GatherOptions, GatheredPartition } from './arrow/shuffle.js';
export { newJobId, partitionObjectId, manifestObjectId, inputObjectId, jobObjectIds } from './arrow/shuffle-ids.js';
export type { ShuffleShape } from './arrow/shuffle-ids.js';
export { runShuffle, shuffleVerified, placeInputs } from './arrow/shuffle-runner.js';
export type { ShuffleRunOptions, ShuffleRunResult, ShufflePhase, ShuffleProgress, Exchange, MapperReport, ReducerReport } from './arrow/shuffle-runner.js';
export { DatasetError } from './errors.js';
export { loadTable, loadFlights, flightsParquetPath, splitTable, replicateTable } from './arrow/dataset.js';
export type { LoadOptions } from './arrow/dataset.js';
export { partitionTable } from './arrow/partition.js';
export type { PartitionOptions, PartitionedTable } from './arrow/partition.js';
export { groupStats, mergeGroupStats, diffGroupStats, rowChecksum, checkPartition } from './arrow/shuffle-stats.js';
export type { GroupStat, RowChecksum, PartitionCheck } from './arrow/shuffle-stats.js';
export { phaseTable, phaseChartSvg, barChartSvg, exchangeMs, shuffleMs, formatMs } from './arrow/shuffle-report.js';
export { startShuffleCluster } from './cli/shuffle-command.js';
