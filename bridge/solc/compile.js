#!/usr/bin/env node
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// Compiles bridge/contracts/*.sol with the pinned solc (npm `solc`, the compiler as WebAssembly: no download,
// works offline) and writes, for every contract that has bytecode, into the output folder (default
// bridge/artifacts):
//   <Name>.abi.json      the ABI (pretty JSON)
//   <Name>.bin           creation bytecode (hex, no 0x)
//   <Name>.bin-runtime   deployed bytecode (hex, no 0x)
// and build-info.json (compiler version and settings). The output depends only on the sources, the compiler
// and the settings below: no source paths or metadata hash go into the bytecode, so the committed artifacts
// can be checked byte for byte (`cargo nextest run -p nexus-bridge` recompiles and compares).
//
// Usage: node bridge/solc/compile.js [--out DIR]
// Setup: npm ci --ignore-scripts --prefix bridge/solc (scripts/setup.sh does it).
'use strict';

const fs = require('fs');
const path = require('path');

// The one compiler version the artifacts are built with: changing it changes the bytecode.
const SOLC_VERSION = '0.8.37+commit.f401782d.Emscripten.clang';

const here = __dirname;
const contractsDir = path.join(here, '..', 'contracts');

function parseArgs(argv) {
  let out = path.join(here, '..', 'artifacts');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) {
      out = path.resolve(argv[++i]);
    } else {
      console.error(`usage: node compile.js [--out DIR] (unexpected argument ${argv[i]})`);
      process.exit(2);
    }
  }
  return { out };
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  let solc;
  try {
    solc = require('solc');
  } catch (e) {
    console.error('solc is not installed: run `npm ci --ignore-scripts --prefix bridge/solc` first');
    process.exit(3);
  }
  if (solc.version() !== SOLC_VERSION) {
    console.error(`solc ${solc.version()} is not the pinned ${SOLC_VERSION}`);
    process.exit(2);
  }

  // Every source file is in the input (sorted, so the input is the same on every machine), under a name
  // relative to bridge/: imports resolve among them and no import callback is needed.
  const sources = {};
  for (const file of fs.readdirSync(contractsDir).filter((f) => f.endsWith('.sol')).sort()) {
    sources[`contracts/${file}`] = { content: fs.readFileSync(path.join(contractsDir, file), 'utf8') };
  }
  const settings = {
    // Must match the revm spec the tests run (SpecId::PRAGUE): the opcodes the compiler may use (mcopy, push0).
    evmVersion: 'prague',
    viaIR: false,
    optimizer: { enabled: true, runs: 10000 },
    // No metadata hash or CBOR trailer: the bytecode does not change with paths or comments.
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '': ['ast'], '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  };
  const input = { language: 'Solidity', sources, settings };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = output.errors || [];
  for (const p of problems) console.error(p.formattedMessage);
  if (problems.some((p) => p.severity === 'error')) process.exit(1);
  // Warnings are errors too: the contracts compile cleanly.
  if (problems.some((p) => p.severity === 'warning')) process.exit(1);

  // Artifacts for deployable contracts only: not libraries (all theirs are internal functions, compiled into
  // the contracts), interfaces or abstract contracts.
  const deployable = new Set();
  for (const unit of Object.keys(output.sources)) {
    for (const node of output.sources[unit].ast.nodes) {
      if (node.nodeType === 'ContractDefinition' && node.contractKind === 'contract' && !node.abstract) {
        deployable.add(`${unit}:${node.name}`);
      }
    }
  }
  fs.mkdirSync(out, { recursive: true });
  const written = [];
  for (const unit of Object.keys(output.contracts).sort()) {
    for (const name of Object.keys(output.contracts[unit]).sort()) {
      if (!deployable.has(`${unit}:${name}`)) continue;
      const c = output.contracts[unit][name];
      fs.writeFileSync(path.join(out, `${name}.abi.json`), JSON.stringify(c.abi, null, 2) + '\n');
      fs.writeFileSync(path.join(out, `${name}.bin`), c.evm.bytecode.object + '\n');
      fs.writeFileSync(path.join(out, `${name}.bin-runtime`), c.evm.deployedBytecode.object + '\n');
      written.push(name);
    }
  }
  const info = { compiler: SOLC_VERSION, sources: Object.keys(sources), settings, contracts: written };
  fs.writeFileSync(path.join(out, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  console.error(`compiled ${written.join(', ')} into ${out}`);
}

main();
