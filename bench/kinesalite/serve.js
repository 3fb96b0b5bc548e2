// Runs kinesalite for bench/run: the same options as kinesalite's own command line
// (--createStreamMs MS, --shardLimit N, --path DIR, ...), but it listens on a loopback address
// only (--host, default 127.0.0.1), and --port 0, the default, takes any free port, so that no
// port has to be guessed free beforehand. Prints "listening PORT" once it accepts connections.
const options = {}
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const name = args[i].replace(/^--/, '')
  const next = args[i + 1]
  if (next === undefined || next.startsWith('--')) {
    options[name] = true
  } else {
    options[name] = /^\d+$/.test(next) ? Number(next) : next
    i++
  }
}
const server = require('kinesalite')(options)
server.listen(options.port || 0, options.host || '127.0.0.1', () => {
  console.log('listening ' + server.address().port)
})
