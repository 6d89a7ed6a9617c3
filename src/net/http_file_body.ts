/**
 * @module
 * Marks a response body as "this range of that file", so the sendfile engine
 * can hand the bytes to the kernel instead of reading the stream. The mark is
 * a WeakMap keyed by the body stream: nothing is added to the response (it
 * cannot leak to a client), the stream object survives re-wrapping
 * (`new Response(res.body, res)`), and other engines just read the stream.
 */

/** The file range a body stream carries, and who the file was when opened. */
export interface FileBodyMark {
  readonly path: string;
  readonly start: number;
  readonly length: number;
  /** Identity of the file the stream reads, to detect a replacement by rename. */
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
}

const marks = new WeakMap<ReadableStream<Uint8Array>, FileBodyMark>();

/** Records that `body` yields `mark.length` bytes of `mark.path` from `mark.start`. */
export function markFileBody(body: ReadableStream<Uint8Array>, mark: FileBodyMark): void {
  marks.set(body, mark);
}

/** The mark of a body, if it has one and nobody has started reading it. */
export function fileBodyOf(body: ReadableStream<Uint8Array> | null): FileBodyMark | undefined {
  if (body === null || body.locked) return undefined;
  return marks.get(body);
}
