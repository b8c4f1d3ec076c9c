/**
 * Ends a command with `code` once everything it printed has left the process.
 *
 * On POSIX, writes to a pipe are asynchronous: what the reader has not taken yet (beyond
 * the pipe's 64 KiB) waits in the stream, and `process.exit()` throws it away (Node.js
 * docs, https://nodejs.org/api/process.html "A note on process I/O": "Pipes (and
 * sockets): ... asynchronous on POSIX"; `process.exit([code])`: it exits "even if there
 * are still asynchronous operations pending ..., including I/O operations to
 * process.stdout and process.stderr"). So the exit code is set first, and the process
 * exits only when an empty write to each stream completes, which a writable stream does
 * after every earlier write. It then exits rather than wait for the event loop to empty,
 * because the Pulumi SDK may leave handles open.
 */
export function exitWhenFlushed(code: number): void {
    process.exitCode = code;
    const streams = [process.stdout, process.stderr];
    let pending = streams.length;
    const flushed = () => {
        pending -= 1;
        if (pending === 0) {
            process.exit(code);
        }
    };
    for (const stream of streams) {
        if (stream.writable) {
            // Called with an error instead when the reader has gone (EPIPE): nothing is left to wait for.
            stream.write("", flushed);
        } else {
            flushed();
        }
    }
}
