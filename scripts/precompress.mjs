// Writes FILE.br (brotli, quality 11) and FILE.gz (gzip, level 9) beside each FILE given, for the
// server to send by content negotiation. Node's own zlib: no tool beyond what the build has.
import { readFileSync, writeFileSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

for (const file of process.argv.slice(2)) {
  const data = readFileSync(file);
  const br = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  const gz = gzipSync(data, { level: 9 });
  writeFileSync(`${file}.br`, br);
  writeFileSync(`${file}.gz`, gz);
  console.log(`${file}: ${data.length} bytes, ${gz.length} gzip, ${br.length} brotli`);
}
