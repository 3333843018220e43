// Parses LogQL expressions with Grafana's own LogQL grammar (@grafana/lezer-logql, the one Grafana's Loki
// query editor uses): reads {name: expression} JSON from the file named by the first argument and prints
// {name: [offsets of syntax errors]}, an empty list for an expression that parses.
import { readFileSync } from "node:fs";
import { parser } from "@grafana/lezer-logql";

const expressions = JSON.parse(readFileSync(process.argv[2], "utf8"));
const errors = {};
for (const [name, expression] of Object.entries(expressions)) {
  errors[name] = [];
  parser.parse(expression).iterate({ enter: (node) => { if (node.type.isError) errors[name].push(node.from); } });
}
console.log(JSON.stringify(errors));
