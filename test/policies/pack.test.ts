import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { packArgs } from "../../policies/pack";
import { packConfigProblems } from "../../tools/offline/pack-config";
import { PROJECT_DIR } from "../mocks";

const CATALOGUE = path.join(PROJECT_DIR, "..", "shared", "POLICIES.md");

/** `| id | checks | on | level | follows |` rows of the catalogue: id -> M or A. */
function catalogue(): Map<string, string> {
    assert.ok(fs.existsSync(CATALOGUE), `the rule catalogue is expected at ${CATALOGUE}`);
    const rows = fs.readFileSync(CATALOGUE, "utf8").split("\n")
        .map((line) => line.split("|").map((cell) => cell.trim()))
        .filter((cells) => cells.length >= 6 && /^[a-z0-9]+(-[a-z0-9]+)+$/.test(cells[1]) && /^[MA]$/.test(cells[4]));
    return new Map(rows.map((cells) => [cells[1], cells[4]]));
}

describe("the policy pack", () => {
    it("implements exactly the rules of POLICIES.md, with their default levels", () => {
        const expected = catalogue();
        assert.ok(expected.size >= 20, `read ${expected.size} rules from the catalogue`);
        const actual = new Map(packArgs.policies.map((policy) => [policy.name, policy.enforcementLevel === "advisory" ? "A" : "M"]));
        assert.deepStrictEqual([...actual].sort(), [...expected].sort());
    });

    it("gives every rule a one-sentence description and a config schema with exemptions", () => {
        for (const policy of packArgs.policies) {
            assert.match(policy.description, /^[A-Z].*\.$/, policy.name);
            assert.ok(policy.configSchema?.properties.exemptions, `${policy.name} takes exemptions`);
        }
    });

    describe("config", () => {
        const cases: [string, unknown, string[]][] = [
            ["a level for every rule", { all: "advisory" }, []],
            ["a limit and a named exemption", { "llm-probes": { minStartupSeconds: 600 }, "image-pinned": { exemptions: [{ name: "qwen", reason: "lab" }] } }, []],
            ["an unknown rule", { "image-pined": "mandatory" }, ["image-pined: no such rule in the pack"]],
            ["an unknown property", { "llm-probes": { minStartup: 600 } }, ["llm-probes.minStartup: no such setting (known: minStartupSeconds, modelServerImages, exemptions)"]],
            ["a bad level", { "llm-probes": { enforcementLevel: "strict" } }, ['llm-probes: enforcement level "strict" is not one of advisory, mandatory, remediate, disabled']],
            ["a value of the wrong type", { "llm-probes": { minStartupSeconds: "ten minutes" } }, ['llm-probes.minStartupSeconds: expected integer, got "ten minutes"']],
            ["an exemption without a reason", { "image-pinned": { exemptions: [{ name: "qwen" }] } }, ["image-pinned.exemptions[0].reason: required"]],
            ["an exemption with an unknown field", { "image-pinned": { exemptions: [{ name: "qwen", reason: "r", until: "2027" }] } }, ["image-pinned.exemptions[0].until: no such setting"]],
        ];
        for (const [what, config, expected] of cases) {
            it(`${expected.length === 0 ? "accepts" : "rejects"} ${what}`, () => {
                assert.deepStrictEqual(packConfigProblems(packArgs.policies, config), expected);
            });
        }
    });

    it("is constructed only by policies/index.ts, which nothing imports", () => {
        const importers = ["tools", "test", "components"].flatMap((dir) => filesUnder(path.join(PROJECT_DIR, dir)))
            .filter((file) => /from ["'](\.\.\/)+policies["']|policies\/index["']/.test(fs.readFileSync(file, "utf8")));
        assert.deepStrictEqual(importers, []);
    });
});

function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? filesUnder(path.join(dir, entry.name)) : entry.name.endsWith(".ts") ? [path.join(dir, entry.name)] : []);
}

describe("the README", () => {
    it("documents every rule of the pack", () => {
        const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");
        const missing = packArgs.policies.map((policy) => policy.name).filter((name) => !readme.includes(`| \`${name}\` |`));
        assert.deepStrictEqual(missing, []);
    });
});
