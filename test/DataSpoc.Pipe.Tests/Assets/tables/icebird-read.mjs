// Reads an Iceberg table with the npm `icebird` reader and prints its rows as JSON (one array).
// usage: node icebird-read.mjs <tools dir> <table url> [metadata file name]
// file:// URLs are served from disk by a fetch shim (icebird and hyparquet fetch everything); s3:// URLs, which
// icebird turns into https://<bucket>.s3.amazonaws.com/<key>, go to $DSP_S3_ENDPOINT (path style) when it is set;
// az://<container>/<key> goes to $DSP_AZURE_BLOB_ENDPOINT/<container>/<key> (a container with anonymous read).
import { readFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import path from 'node:path'

const [tools, tableUrl, metadataFileName] = process.argv.slice(2)
const { icebergRead, icebergMetadata } = await import(pathToFileURL(path.join(tools, 'node_modules/icebird/src/index.js')))

const realFetch = globalThis.fetch
globalThis.fetch = async (url, init) => {
  url = String(url)
  if (url.startsWith('file://')) {
    let bytes
    try { bytes = await readFile(fileURLToPath(url)) } catch { return new Response(null, { status: 404, statusText: 'Not Found' }) }
    return new Response(bytes, { status: 200 })
  }
  if (url.startsWith('az://') && process.env.DSP_AZURE_BLOB_ENDPOINT) url = `${process.env.DSP_AZURE_BLOB_ENDPOINT}/${url.slice(5)}`
  const s3 = url.match(/^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.*)$/)
  if (s3 && process.env.DSP_S3_ENDPOINT) url = `${process.env.DSP_S3_ENDPOINT}/${s3[1]}/${s3[2]}`
  return realFetch(url, init)
}

const metadata = await icebergMetadata({ tableUrl, metadataFileName })
const rows = await icebergRead({ tableUrl, metadata })
const json = JSON.stringify({
  snapshot: String(metadata['current-snapshot-id']),
  schema: metadata.schemas.find(s => s['schema-id'] === metadata['current-schema-id']).fields.map(f => `${f.id}:${f.name}`),
  rows,
}, (_, v) => typeof v === 'bigint' ? v.toString() : v)
process.stdout.write(json)
