/**
 * @module
 * APKOVL compiler: per-machine overlay trees (pure), a deterministic ustar +
 * gzip writer (pure), and `compileOverlays`, which publishes
 * `<outDir>/<id>.tar.gz` and `<outDir>/index.json`.
 */
export {
  entryProblem,
  EntryType,
  gzipDeterministic,
  splitUstarPath,
  TAR_MTIME,
  type TarEntry,
  writeTar,
  writeTarGz,
} from "./tar.ts";
export {
  buildOverlay,
  type BuiltOverlay,
  type GeneratedParts,
  type NodeAccess,
  type SourceFiles,
} from "./overlay.ts";
export {
  type CompileOptions,
  compileOverlays,
  type CompileResult,
  type CompileRow,
  INDEX_FILE,
  type IndexEntry,
} from "./compile.ts";
