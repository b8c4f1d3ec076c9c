import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { packArgs } from "../../policies/pack";
import { packConfigProblems } from "../../tools/offline/pack-config";
import { PROJECT_DIR } from "../mocks";

const CATALOGUE = path.join(PROJECT_DIR, "..", "shared", "POLICIES.md");

/** Rule id -> default level, M (mandatory) or A (advisory). */
type Levels = ReadonlyMap<string, string>;

/** `| id | checks | on | level | follows |` rows of the catalogue. */
function catalogueLevels(text: string): Levels {
    const rows = text.split("\n")
        .map((line) => line.split("|").map((cell) => cell.trim()))
        .filter((cells) => cells.length >= 6 && /^[a-z0-9]+(-[a-z0-9]+)+$/.test(cells[1]) && /^[MA]$/.test(cells[4]));
    return new Map(rows.map((cells) => [cells[1], cells[4]]));
}

/** The `| `id` | M |` rows of the rule table in the README's Policies section. */
function readmeRuleLevels(readme: string): Levels {
    const start = readme.indexOf("\n## Policies\n");
    const end = readme.indexOf("\n## ", start + 1);
    const section = start < 0 ? "" : readme.slice(start, end < 0 ? undefined : end);
    return new Map([...section.matchAll(/^\| `([a-z0-9-]+)` \| ([MA]) \|/gm)].map((match) => [match[1], match[2]]));
}

/**
 * What breaks ARCHITECTURE.md's rule: every rule of the catalogue is in the pack at the
 * catalogue's level, and every other rule of the pack is in the README's rule table at
 * its level. One line per problem; none when the pack complies.
 */
function catalogueProblems(pack: Levels, catalogue: Levels, readme: Levels): string[] {
    const problems: string[] = [];
    for (const [id, level] of catalogue) {
        const actual = pack.get(id);
        if (actual === undefined) {
            problems.push(`${id}: in POLICIES.md, not in the pack`);
        } else if (actual !== level) {
            problems.push(`${id}: ${actual} in the pack, ${level} in POLICIES.md`);
        }
    }
    for (const [id, level] of pack) {
        if (catalogue.has(id)) {
            continue;
        }
        const documented = readme.get(id);
        if (documented === undefined) {
            problems.push(`${id}: in the pack, in neither POLICIES.md nor the README's rule table`);
        } else if (documented !== level) {
            problems.push(`${id}: ${level} in the pack, ${documented} in the README's rule table`);
        }
    }
    return problems;
}

describe("the policy pack", () => {
    describe("against the catalogue and the README", () => {
        const catalogue = new Map([["image-pinned", "M"], ["spread-replicas", "A"]]);
        const readme = new Map([["image-pinned", "M"], ["extra-rule", "M"]]);
        const cases: [string, [string, string][], string[]][] = [
            ["the catalogue's rules at their levels", [["image-pinned", "M"], ["spread-replicas", "A"]], []],
            ["an extra rule in the README's table at its level", [["image-pinned", "M"], ["spread-replicas", "A"], ["extra-rule", "M"]], []],
            ["a missing catalogue rule", [["image-pinned", "M"]], ["spread-replicas: in POLICIES.md, not in the pack"]],
            ["a catalogue rule at another level", [["image-pinned", "A"], ["spread-replicas", "A"]], ["image-pinned: A in the pack, M in POLICIES.md"]],
            ["an extra rule the README does not list", [["image-pinned", "M"], ["spread-replicas", "A"], ["other-rule", "M"]],
                ["other-rule: in the pack, in neither POLICIES.md nor the README's rule table"]],
            ["an extra rule at another level than the README's", [["image-pinned", "M"], ["spread-replicas", "A"], ["extra-rule", "A"]],
                ["extra-rule: A in the pack, M in the README's rule table"]],
        ];
        for (const [what, pack, expected] of cases) {
            it(`${expected.length === 0 ? "accepts" : "refuses"} ${what}`, () => {
                assert.deepStrictEqual(catalogueProblems(new Map(pack), catalogue, readme), expected);
            });
        }

        it("reads the README's table rows in its Policies section only", () => {
            const readmeText = ["## Stacks", "| `dev-rule` | M | not a rule |", "## Policies", "| rule | level |", "|---|---|",
                "| `extra-rule` | A | checks | - |", "| `chart-rule` | M | checks | - |", "", "## Tests", "| `test-rule` | M |"].join("\n");
            assert.deepStrictEqual([...readmeRuleLevels(readmeText)], [["extra-rule", "A"], ["chart-rule", "M"]]);
        });
    });

    it("implements every rule of POLICIES.md at its level, and lists every other rule in the README's rule table", () => {
        assert.ok(fs.existsSync(CATALOGUE), `the rule catalogue is expected at ${CATALOGUE}`);
        const catalogue = catalogueLevels(fs.readFileSync(CATALOGUE, "utf8"));
        assert.ok(catalogue.size >= 20, `read ${catalogue.size} rules from the catalogue`);
        const readme = readmeRuleLevels(fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8"));
        assert.ok(readme.size >= catalogue.size, `read ${readme.size} rules from the README's rule table`);
        const pack = new Map(packArgs.policies.map((policy) => [policy.name, policy.enforcementLevel === "advisory" ? "A" : "M"]));
        assert.deepStrictEqual(catalogueProblems(pack, catalogue, readme), []);
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
