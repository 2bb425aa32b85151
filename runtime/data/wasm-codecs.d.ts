/**
 * Types of the WebAssembly decoders from @cornerstonejs (the packages ship none): the part of
 * their Emscripten modules that dicom-codecs.ts calls. Each default export instantiates the
 * module; `print` and `printErr` receive the library's log lines instead of stdout and stderr.
 */
interface CornerstoneFrameInfo {
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly componentCount: number;
  readonly isSigned?: boolean;
}

interface CornerstoneDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): CornerstoneFrameInfo;
  delete(): void;
}

interface CornerstoneModuleOptions {
  print?: (line: string) => void;
  printErr?: (line: string) => void;
}

declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: (options?: CornerstoneModuleOptions) => Promise<{ JpegLSDecoder: new () => CornerstoneDecoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: (options?: CornerstoneModuleOptions) => Promise<{
    J2KDecoder: new () => CornerstoneDecoder;
  }>;
  export default factory;
}

declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const factory: (options?: CornerstoneModuleOptions) => Promise<{
    JPEGDecoder: new () => CornerstoneDecoder;
  }>;
  export default factory;
}
