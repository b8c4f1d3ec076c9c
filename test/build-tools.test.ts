import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR, builtOutputs, builtToolsAreFresh } from "./mocks";

describe("the test run's build of bin/ (test/mocks.ts buildTools)", () => {
    it("expects one bin/<entry>.js per entry point of the build script", () => {
        assert.deepStrictEqual(
            builtOutputs("rm -rf bin && esbuild index.ts tools/plan.ts --bundle --outdir=bin").map((file) => path.relative(PROJECT_DIR, file)),
            [path.join("bin", "index.js"), path.join("bin", "tools", "plan.js")],
        );
        assert.ok(builtOutputs().some((file) => file.endsWith(path.join("bin", "tools", "plan.js"))), "package.json's build script names tools/plan.ts");
    });

    it("builds when an output is missing or older than a source, and not when every output is newer", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "build-tools-"));
        try {
            const [source, output, other] = ["index.ts", "index.js", "plan.js"].map((name) => path.join(dir, name));
            const at = (file: string, seconds: number) => {
                fs.writeFileSync(file, "");
                fs.utimesSync(file, seconds, seconds);
            };
            at(source, 1000);
            assert.strictEqual(builtToolsAreFresh([output], [source]), false, "no output yet");
            at(output, 2000);
            assert.strictEqual(builtToolsAreFresh([output], [source]), true, "output newer than its source");
            assert.strictEqual(builtToolsAreFresh([output, other], [source]), false, "one output missing");
            at(other, 900);
            assert.strictEqual(builtToolsAreFresh([output, other], [source]), false, "one output older than a source");
            at(source, 3000);
            assert.strictEqual(builtToolsAreFresh([output], [source]), false, "source edited after the build");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("the bundles' size", () => {
    it("carries only zod's English messages: the namespace import (import * as z) lets esbuild leave out its other locales", () => {
        // `import { z } from "zod"` takes zod's `z` namespace object whole, locales and all (63
        // locales and their index): about 577 KB of each bundle (bin/index.js 976 -> 399 KB), and
        // every plan compiles two bundles (bin/index.js and bin/tools/plan.js each carry zod).
        for (const bundle of [path.join("bin", "index.js"), path.join("bin", "tools", "plan.js")]) {
            const text = fs.readFileSync(path.join(PROJECT_DIR, bundle), "utf8");
            const locales = [...text.matchAll(/^\/\/ \S*node_modules\/zod\/v4\/locales\/(\S+)\.js$/gm)].map((match) => match[1]);
            assert.deepStrictEqual(locales, ["en"], `${bundle} carries zod locales ${locales.join(", ")}`);
        }
    });
});
