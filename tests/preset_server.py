"""A real HTTP server on 127.0.0.1 for the download tests: it serves files from a dict of
{url path: bytes}, answers the Hugging Face `resolve` paths' HEAD requests with the headers
huggingface_hub reads (X-Repo-Commit, ETag, Content-Length), and can be told to alter a
file (`tampered`), to close the connection halfway through one (`cut`), or to send one byte at a
time, a fifth of a second apart (`trickle`)."""

import hashlib
import http.server
import threading
import time


class PresetServer:
    def __init__(self):
        self.files, self.tampered, self.cut, self.trickle, self.requests = {}, set(), set(), set(), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body_wanted):
                path = self.path.split("?", 1)[0]
                server.requests.append((self.command, path))
                data = server.files.get(path)
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path in server.tampered:
                    data = data[:-1] + bytes([data[-1] ^ 1])
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", '"%s"' % hashlib.sha256(data).hexdigest())
                self.send_header("X-Repo-Commit", "0" * 40)
                self.end_headers()
                if not body_wanted:
                    return
                if path in server.cut:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if path in server.trickle:
                    try:
                        for i in range(len(data)):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:  # the client gave up
                        pass
                    return
                self.wfile.write(data)

            def do_GET(self):
                self._send(True)

            def do_HEAD(self):
                self._send(False)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve_folder(self, prefix, folder):
        """Every file of `folder` under `prefix/NAME`."""
        for path in folder.iterdir():
            if path.is_file():
                self.files[f"{prefix}/{path.name}"] = path.read_bytes()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
