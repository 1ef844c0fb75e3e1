{
  "targets": [
    {
      "target_name": "logban_bpf",
      "sources": ["logban_bpf.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
