// Times ONNX Runtime's CPU execution provider (onnxruntime-node) on one ONNX graph, for
// tests/bench/compare_onnxruntime.py. Prints one JSON line: {"median_ms", "best_ms", "runs"}.
//   node ort_time.js MODEL.onnx THREADS [SECONDS]
// Run with NODE_PATH pointing at the node_modules that holds onnxruntime-node.
"use strict";
const ort = require("onnxruntime-node");

async function main() {
  const [model, threadsArg, secondsArg] = process.argv.slice(2);
  const threads = Number(threadsArg);
  const seconds = Number(secondsArg || 5);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const input = new Float32Array(3 * 224 * 224);
  for (let i = 0; i < input.length; ++i) input[i] = Math.sin(i * 0.37);
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 3, 224, 224]) };
  for (let i = 0; i < 3; ++i) await session.run(feeds);  // warm-up: allocations, thread pool
  const samples = [];
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end || samples.length < 5) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  console.log(JSON.stringify({ median_ms: median, best_ms: samples[0], runs: samples.length }));
}

main().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
