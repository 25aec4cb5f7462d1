// Validates Iceberg manifest lists and manifests with the npm `avsc` library against the v2 schemas of the
// Iceberg table spec ("Manifest Lists", "Manifests"), written out here from the spec's tables, independently of
// the writer. For each file: the writer schema must declare every spec field with its field-id, required fields
// must not be unions, and every record must decode and be valid for the spec schema (avsc resolves by name).
// usage: node avro-check.mjs <tools dir> <file.avro>...   prints [{file, kind, records, problems}]
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'

const [tools, ...files] = process.argv.slice(2)
const require = createRequire(pathToFileURL(path.join(tools, 'package.json')))
const avro = require('avsc')
// Snapshot ids are 63-bit: decode Avro longs as BigInt (avsc refuses longs beyond 2^53 as plain numbers).
const longType = avro.types.LongType.__with({
  fromBuffer: buf => buf.readBigInt64LE(),
  toBuffer: n => { const buf = Buffer.alloc(8); buf.writeBigInt64LE(BigInt(n)); return buf },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: n => typeof n === 'bigint',
  compare: (a, b) => (a === b ? 0 : a < b ? -1 : 1),
})
const parseHook = schema => avro.Type.forSchema(schema, { registry: { long: longType } })

const opt = (type, id, name) => ({ name, id, required: false, type })
const req = (type, id, name) => ({ name, id, required: true, type })
const intMap = (id, k, v, name, valueType) => ({ name, id, required: false, type: { map: true, k, v, valueType } })
const spec = {
  manifest_file: [
    req('string', 500, 'manifest_path'), req('long', 501, 'manifest_length'), req('int', 502, 'partition_spec_id'),
    req('int', 517, 'content'), req('long', 515, 'sequence_number'), req('long', 516, 'min_sequence_number'),
    req('long', 503, 'added_snapshot_id'), req('int', 504, 'added_files_count'), req('int', 505, 'existing_files_count'),
    req('int', 506, 'deleted_files_count'), req('long', 512, 'added_rows_count'), req('long', 513, 'existing_rows_count'),
    req('long', 514, 'deleted_rows_count'),
    opt({ list: 508, fields: [req('boolean', 509, 'contains_null'), opt('boolean', 518, 'contains_nan'), opt('bytes', 510, 'lower_bound'), opt('bytes', 511, 'upper_bound')] }, 507, 'partitions'),
  ],
  manifest_entry: [
    req('int', 0, 'status'), opt('long', 1, 'snapshot_id'), opt('long', 3, 'sequence_number'), opt('long', 4, 'file_sequence_number'),
    req({ fields: [
      req('int', 134, 'content'), req('string', 100, 'file_path'), req('string', 101, 'file_format'),
      req({ partition: true }, 102, 'partition'), req('long', 103, 'record_count'), req('long', 104, 'file_size_in_bytes'),
      intMap(108, 117, 118, 'column_sizes', 'long'), intMap(109, 119, 120, 'value_counts', 'long'),
      intMap(110, 121, 122, 'null_value_counts', 'long'), intMap(125, 126, 127, 'lower_bounds', 'bytes'),
      intMap(128, 129, 130, 'upper_bounds', 'bytes'),
    ] }, 2, 'data_file'),
  ],
}

function check(expected, record, where, problems) {
  for (const e of expected) {
    const f = record.fields.find(x => x.name === e.name)
    if (!f) { if (e.required) problems.push(`${where}: required field ${e.name} (${e.id}) missing`); continue }
    if (f['field-id'] !== e.id) problems.push(`${where}.${e.name}: field-id ${f['field-id']}, spec says ${e.id}`)
    let t = f.type
    const isUnion = Array.isArray(t)
    if (e.required && isUnion) problems.push(`${where}.${e.name}: required but written as a union`)
    if (!e.required) {
      if (!isUnion || t.length !== 2 || t[0] !== 'null') { problems.push(`${where}.${e.name}: optional must be ["null", T]`); continue }
      if (f.default !== null) problems.push(`${where}.${e.name}: optional without default null`)
      t = t[1]
    }
    const et = e.type
    if (typeof et === 'string') {
      const name = typeof t === 'string' ? t : t.type
      if (name !== et) problems.push(`${where}.${e.name}: type ${JSON.stringify(t)}, spec says ${et}`)
    } else if (et.list) {
      if (t.type !== 'array' || t['element-id'] !== et.list) problems.push(`${where}.${e.name}: must be an array with element-id ${et.list}`)
      else check(et.fields, t.items, `${where}.${e.name}[]`, problems)
    } else if (et.map) {
      if (t.type !== 'array' || t.logicalType !== 'map') { problems.push(`${where}.${e.name}: int-keyed map must be an array with logicalType map`); continue }
      const [k, v] = t.items.fields
      if (k.name !== 'key' || k.type !== 'int' || k['field-id'] !== et.k) problems.push(`${where}.${e.name}: key must be int with field-id ${et.k}`)
      if (v.name !== 'value' || v.type !== et.valueType || v['field-id'] !== et.v) problems.push(`${where}.${e.name}: value must be ${et.valueType} with field-id ${et.v}`)
    } else if (et.partition) {
      if (t.type !== 'record') problems.push(`${where}.${e.name}: partition must be a record`)
      for (const pf of t.fields ?? []) if (!(pf['field-id'] >= 1000)) problems.push(`${where}.partition.${pf.name}: partition field ids start at 1000`)
    } else if (et.fields) {
      if (t.type !== 'record') problems.push(`${where}.${e.name}: must be a record`)
      else check(et.fields, t, `${where}.${e.name}`, problems)
    }
  }
}

const results = []
for (const file of files) {
  const problems = []
  let kind = '?'
  let records = 0
  const metadata = {}
  const entries = []
  await new Promise((resolve) => {
    const decoder = avro.createFileDecoder(file, { parseHook })
    decoder.on('metadata', (type, codec, header) => {
      const schema = JSON.parse(header.meta['avro.schema'].toString())
      for (const [k, v] of Object.entries(header.meta)) if (!k.startsWith('avro.')) metadata[k] = v.toString()
      kind = schema.name
      if (!spec[kind]) problems.push(`unknown record ${kind}`)
      else check(spec[kind], schema, kind, problems)
      if (kind === 'manifest_entry') for (const key of ['schema', 'schema-id', 'partition-spec', 'partition-spec-id', 'format-version', 'content'])
        if (!(key in metadata)) problems.push(`manifest metadata key ${key} missing`)
    })
    decoder.on('data', record => {
      records++
      if (kind === 'manifest_entry') {
        if (![0, 1, 2].includes(record.status)) problems.push(`status ${record.status}`)
        const df = record.data_file
        const byId = (m, f) => Object.fromEntries((m ?? []).map(kv => [kv.key, f(kv.value)]))
        entries.push({
          status: record.status, path: df.file_path, format: df.file_format, records: Number(df.record_count),
          partition: df.partition, values: byId(df.value_counts, Number), nulls: byId(df.null_value_counts, Number),
          lower: byId(df.lower_bounds, b => b.toString('hex')), upper: byId(df.upper_bounds, b => b.toString('hex')),
        })
      } else if (kind === 'manifest_file') {
        entries.push({ path: record.manifest_path, added_snapshot_id: String(record.added_snapshot_id), added_files: record.added_files_count, sequence_number: Number(record.sequence_number) })
      }
    })
    decoder.on('error', e => { problems.push(String(e)); resolve() })
    decoder.on('end', resolve)
  })
  results.push({ file, kind, records, metadata, problems, entries })
}
process.stdout.write(JSON.stringify(results, (_, v) => typeof v === 'bigint' ? v.toString() : v))
