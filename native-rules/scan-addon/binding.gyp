{
  "targets": [
    {
      "target_name": "logban_scan",
      "sources": ["logban_scan.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
