#!/usr/bin/env python3
# Writes DOCROOT/page30.html: 30 images spread over 6 origins (HOST on port 80 and the
# five PORTS), and an onload handler that reports the page's own load time with a
# synchronous request to /report?ms=N (so a headless browser cannot exit before it
# left). Also DOCROOT/dot.gif. Usage: page.py DOCROOT HOST PORT...
import base64
import sys

root, host, ports = sys.argv[1], sys.argv[2], [80] + [int(p) for p in sys.argv[3:]]
gif = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
with open(f"{root}/dot.gif", "wb") as f:
    f.write(gif)
imgs = []
for i in range(30):
    port = ports[i % len(ports)]
    origin = f"http://{host}" if port == 80 else f"http://{host}:{port}"
    imgs.append(f'<img src="{origin}/dot.gif?{i}" width="1" height="1">')
html = f"""<!doctype html><html><head><title>page30</title>
<script>
window.addEventListener("load", function () {{
  var ms = Math.round(performance.now());
  document.title = "loaded " + ms;
  var x = new XMLHttpRequest();
  x.open("GET", "/report?ms=" + ms, false);
  try {{ x.send(); }} catch (e) {{}}
}});
</script></head><body>
{chr(10).join(imgs)}
</body></html>
"""
with open(f"{root}/page30.html", "w") as f:
    f.write(html)
