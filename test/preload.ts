// Bun's fetch obeys proxy variables from the environment; tests talk to loopback only.
for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"]) {
  delete process.env[name];
}
