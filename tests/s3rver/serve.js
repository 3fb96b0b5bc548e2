// Runs s3rver for the tests: listens on 127.0.0.1 only, on --port PORT or, by default, on any free
// port (0), so that no port has to be guessed free beforehand; keeps its objects under
// --directory DIR; creates each --bucket NAME (repeatable) before it listens. Prints
// "listening PORT" once it accepts connections. Its access key and secret are both "S3RVER".
const S3rver = require('s3rver')

let port = 0
let directory
const buckets = []
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i += 2) {
  const value = args[i + 1]
  if (value === undefined) {
    console.error('serve.js: ' + args[i] + ' needs a value')
    process.exit(2)
  }
  switch (args[i]) {
    case '--port': port = Number(value); break
    case '--directory': directory = value; break
    case '--bucket': buckets.push({ name: value }); break
    default:
      console.error('serve.js: unknown option ' + args[i])
      process.exit(2)
  }
}
if (directory === undefined) {
  console.error('usage: serve.js --directory DIR [--port PORT] [--bucket NAME]...')
  process.exit(2)
}

new S3rver({ address: '127.0.0.1', port, directory, configureBuckets: buckets })
  .run()
  .then(address => console.log('listening ' + address.port))
  .catch(error => {
    console.error('serve.js: ' + error.message)
    process.exit(1)
  })
