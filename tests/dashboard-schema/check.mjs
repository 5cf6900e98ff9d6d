// Type-checks every dashboards/*.json against Grafana's own schemas as published in the npm
// package @grafana/schema (TypeScript types generated from Grafana's CUE kinds): the
// dashboard model (panels, rows, grid positions, field config, templating variables,
// annotations, links) and, per panel type, that plugin's options and custom field config.
// Each dashboard becomes a TypeScript object literal assigned to the schema type, so the
// compiler reports unknown keys (excess properties) and wrongly typed values. Options and
// field config are checked as Grafana reads them: every key optional (the plugin fills in
// defaults) and string enums as their values. There is no Grafana server here, so this is the
// schema half of what Grafana would check, not its migration code.
// Usage: node tests/dashboard-schema/check.mjs [DASHBOARD.json ...]; exit 1 with the
// compiler's messages when a dashboard does not fit.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const HERE = dirname(fileURLToPath(import.meta.url));
const DASHBOARDS = resolve(HERE, "../../dashboards");
const RAW = "@grafana/schema/dist/esm/raw";

// Panel types with a published options schema; a dashboard using any other type fails.
const PLUGINS = {
  stat: "stat/panelcfg/x/StatPanelCfg_types.gen",
  table: "table/panelcfg/x/TablePanelCfg_types.gen",
  timeseries: "timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen",
  piechart: "piechart/panelcfg/x/PieChartPanelCfg_types.gen",
  barchart: "barchart/panelcfg/x/BarChartPanelCfg_types.gen",
  bargauge: "bargauge/panelcfg/x/BarGaugePanelCfg_types.gen",
  gauge: "gauge/panelcfg/x/GaugePanelCfg_types.gen",
  text: "text/panelcfg/x/TextPanelCfg_types.gen",
  heatmap: "heatmap/panelcfg/x/HeatmapPanelCfg_types.gen",
};

function prelude() {
  const imports = Object.entries(PLUGINS)
    .map(([name, path]) => `import type * as ${name} from "${RAW}/composable/${path}";`)
    .join("\n");
  const panels = Object.entries(PLUGINS)
    .map(([name, path]) => {
      // Only some plugins publish a custom field config; the rest take any.
      const types = readFileSync(join(HERE, "node_modules", RAW, "composable", `${path}.d.ts`), "utf8");
      const custom = /export interface FieldConfig\b/.test(types)
        ? `${name}.FieldConfig`
        : "Record<string, unknown>";
      return `  | (Omit<raw.Panel, "type" | "options" | "fieldConfig"> & {
      type: "${name}";
      options?: Loose<${name}.Options>;
      fieldConfig?: FieldConfigOf<${custom}>;
    })`;
    })
    .join("\n");
  return `import type * as raw from "${RAW}/dashboard/x/Dashboard_types.gen";
${imports}

// As Grafana reads a saved model: keys optional (defaults fill in), string enums by value.
type Loose<T> = T extends string
  ? \`\${T}\`
  : T extends number | boolean | null | undefined
    ? T
    : T extends Array<infer U>
      ? Array<Loose<U>>
      : T extends object
        ? { [K in keyof T]?: Loose<T[K]> }
        : T;
type FieldConfigOf<C> = Omit<Loose<raw.FieldConfigSource>, "defaults"> & {
  defaults?: Omit<Loose<raw.FieldConfig>, "custom"> & { custom?: Loose<C> };
};
type Typed =
${panels};
type Row = Omit<raw.RowPanel, "panels"> & { panels?: Typed[] };
// Query variables also carry \`definition\` (the query text Grafana shows in the variable list;
// QueryVariableModel in @grafana/data), which the CUE kind leaves out.
type Variable = Loose<raw.VariableModel> & { definition?: string };
type Checked = Omit<Loose<raw.Dashboard>, "panels" | "schemaVersion" | "title" | "templating"> & {
  title: string;
  schemaVersion: number;
  panels?: Array<Typed | Row>;
  templating?: { list?: Variable[] };
};
`;
}

function main(files) {
  const chosen = files.length
    ? files.map((f) => resolve(f))
    : readdirSync(DASHBOARDS)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => join(DASHBOARDS, f));
  if (!chosen.length) {
    console.error("no dashboards found");
    return 1;
  }
  // Inside this folder, so "@grafana/schema" resolves from its node_modules.
  const work = mkdtempSync(join(HERE, ".check-"));
  try {
    const sources = chosen.map((file, i) => {
      const path = join(work, `dashboard${i}.ts`);
      const json = readFileSync(file, "utf8");
      writeFileSync(path, `${prelude()}\n// ${file}\nexport const dashboard: Checked = ${json};\n`);
      return { file, path };
    });
    const program = ts.createProgram(
      sources.map((s) => s.path),
      {
        noEmit: true,
        strict: true,
        skipLibCheck: true,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        target: ts.ScriptTarget.ES2022,
      },
    );
    const diagnostics = ts.getPreEmitDiagnostics(program);
    for (const d of diagnostics) {
      const where = sources.find((s) => d.file && resolve(d.file.fileName) === s.path);
      const text = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
      let at = "";
      if (d.file && d.start !== undefined) {
        const { line } = d.file.getLineAndCharacterOfPosition(d.start);
        at = `:${line + 1}: ${d.file.text.split("\n")[line].trim().slice(0, 120)}`;
      }
      console.error(`${where ? where.file : d.file?.fileName ?? "?"}${at}\n  ${text}`);
    }
    console.log(`${chosen.length} dashboards checked against @grafana/schema: ` +
      `${diagnostics.length} problem(s)`);
    return diagnostics.length ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exit(main(process.argv.slice(2)));
