/**
 * Live progress: on a terminal, a status block redrawn in place; otherwise (CI, a pipe, a file) a
 * plain line now and then, so logs stay readable.
 */
export interface Progress {
  update(lines: string[]): void;
  log(line: string): void;
  done(): void;
}

export function progress(stream: NodeJS.WriteStream, everyMs = 1000): Progress {
  if (stream.isTTY) {
    let drawn = 0;
    const clear = (): void => {
      if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[0J`);
      drawn = 0;
    };
    let last: string[] = [];
    return {
      update(lines) {
        last = lines;
        clear();
        stream.write(`${lines.join('\n')}\n`);
        drawn = lines.length;
      },
      log(line) {
        clear();
        stream.write(`${line}\n`);
        if (last.length > 0) this.update(last);
      },
      done() {
        drawn = 0;
      },
    };
  }
  let lastAt = -Infinity;
  return {
    update(lines) {
      const now = performance.now();
      if (now - lastAt < everyMs) return;
      lastAt = now;
      stream.write(`${lines.join(' | ')}\n`);
    },
    log(line) {
      stream.write(`${line}\n`);
    },
    done() {},
  };
}
