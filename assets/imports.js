/* The import page's upload (see app/import_upload.py and callbacks/imports.py).
 *
 * dcc.Upload reads the chosen file in the browser as a data URL. Rather than send it through a Dash
 * callback (whose body is capped, and which would carry the file base64-encoded through the
 * renderer's state), this clientside callback turns it back into bytes, a slice at a time, and posts
 * them to /import/upload with XMLHttpRequest, whose upload events drive the progress bar.
 */
(function () {
  "use strict";

  var SLICE = 4 * 1024 * 1024; // base64 characters decoded at a time (a multiple of 4)
  var BAR = "import-upload-progress";

  function bytesOf(dataUrl) {
    var comma = dataUrl.indexOf(",");
    var text = dataUrl.slice(comma + 1);
    var parts = [];
    for (var at = 0; at < text.length; at += SLICE) {
      var binary = atob(text.slice(at, at + SLICE));
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      parts.push(bytes);
    }
    return new Blob(parts);
  }

  function bar(value, label, hidden) {
    window.dash_clientside.set_props(BAR, {value: value, label: label, className: hidden ? "d-none" : ""});
  }

  function upload(contents, filename) {
    var noUpdate = window.dash_clientside.no_update;
    if (!contents) return [noUpdate, noUpdate, noUpdate];
    var body = bytesOf(contents);
    bar(0, "0 %", false);
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/import/upload?filename=" + encodeURIComponent(filename || "file"));
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) {
          var pct = Math.round(100 * event.loaded / event.total);
          bar(pct, pct + " %", false);
        }
      };
      xhr.onload = function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {}; }
        bar(100, "", true);
        if (xhr.status === 200) {
          resolve([{id: answer.id}, null, ""]);
        } else {
          var message = (answer.error && answer.error.message) || ("The upload failed (HTTP " + xhr.status + ").");
          resolve([{error: message}, null, ""]);
        }
      };
      xhr.onerror = function () {
        bar(0, "", true);
        resolve([{error: "The upload failed: the server could not be reached."}, null, ""]);
      };
      xhr.send(body);
    });
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.tradeboard_import = {upload: upload};
})();
