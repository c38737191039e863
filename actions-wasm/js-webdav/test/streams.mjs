// Stand-ins for the wasi:io streams componentize-js hands a provider, with the
// same methods and failure shapes (ComponentError with payload { tag: 'closed' }).

/** An output-stream that keeps what is written; refuses writes over 4,096 bytes as wasi:io does. */
export class FakeOutputStream {
  constructor() {
    this.parts = [];
    this.dropped = 0;
    this.calls = 0;
  }
  blockingWriteAndFlush(bytes) {
    if (this.dropped) throw new Error('write after drop');
    if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
    if (bytes.length > 4096) throw Object.assign(new Error('last-operation-failed'), { payload: { tag: 'last-operation-failed', val: { toDebugString: () => 'more than 4096 bytes' } } });
    this.calls += 1;
    this.parts.push(Uint8Array.from(bytes));
  }
  [Symbol.dispose]() {
    this.dropped += 1;
  }
  bytes() {
    return Buffer.concat(this.parts);
  }
}

/** An input-stream over `data`, handing out at most `step` bytes per read. */
export class FakeInputStream {
  constructor(data, step = 1000) {
    this.data = Buffer.from(data);
    this.at = 0;
    this.step = step;
    this.dropped = 0;
  }
  blockingRead(len) {
    if (typeof len !== 'bigint') throw new TypeError('len is a u64: pass a BigInt');
    if (this.at >= this.data.length) throw Object.assign(new Error('closed (see error.payload)'), { payload: { tag: 'closed' } });
    const n = Math.min(Number(len), this.step, this.data.length - this.at);
    const chunk = new Uint8Array(this.data.subarray(this.at, this.at + n));
    this.at += n;
    return chunk;
  }
  [Symbol.dispose]() {
    this.dropped += 1;
  }
}
