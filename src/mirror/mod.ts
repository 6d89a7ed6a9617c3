/**
 * @module
 * The offline Alpine mirror: APKINDEX parsing, Alpine version comparison and
 * the dependency resolver (pure); apk v2 signature and package identity
 * checks (pure); `downloadMirror`, which fetches, verifies and publishes
 * `<mirror.dir>/<branch>` atomically; and `mirrorStatus`.
 */
export {
  ApkVerifyError,
  checkSignature,
  MAX_INDEX_BYTES,
  openApkIndex,
  type OpenedIndex,
  parseSignatureName,
  readSignatures,
  type SignatureCheck,
  type TrustedKeys,
  type VerifiedIndex,
  verifyApkIndex,
  VerifyFailure,
} from "./apk_signature.ts";
export {
  checkDataHash,
  checkIdentity,
  NeedMoreBytes,
  type PackageHead,
  readPackageHead,
} from "./apk_package.ts";
export { GzipError, type GzipMember, readGzipMember, readGzipMembers } from "./gzip_members.ts";
export { readTar, TarError, type TarFile } from "./tar_read.ts";
export {
  compareVersions,
  isValidVersion,
  satisfies,
  type VersionOp,
  versionOpFrom,
} from "./version.ts";
export {
  type ApkPackage,
  type Dependency,
  formatDependency,
  type IndexProblem,
  parseApkIndex,
  parseDependency,
  type ParsedIndex,
  type Provide,
} from "./apkindex.ts";
export { type RepoPackage, type Resolution, resolveClosure, type Wanted } from "./resolve.ts";
export { BASE_PACKAGE, machineWanted, mirrorWanted } from "./wanted.ts";
export {
  type ArchReport,
  downloadMirror,
  type DownloadOptions,
  type DownloadReport,
  type Progress,
  type RepoReport,
  REPOSITORIES,
} from "./download.ts";
export { DEFAULT_POLICY, FetchError, type FetchPolicy } from "./fetcher.ts";
export { type Layout, layout, type MirrorState, readState } from "./layout.ts";
export { NETBOOT_FILES, type NetbootResult } from "./netboot.ts";
export { packageRel } from "./packages.ts";
export {
  type ArchStatus,
  type MachineStatus,
  type MirrorStatus,
  mirrorStatus,
  type StatusOptions,
} from "./status.ts";
export { loadTrustedKeys, verifyPackageFile } from "./verify_file.ts";
