// Tell the page that opened this popup how the sign-in ended, then close.
// postMessage goes to Gatekey's exact origin only; the BroadcastChannel reaches same-origin
// pages even when the provider's Cross-Origin-Opener-Policy cut window.opener.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gatekey-result").textContent);
  var message = data.result;
  try {
    if (window.opener && !window.opener.closed) {
      window.opener.postMessage(message, data.origin);
    }
  } catch (e) { /* the opener is gone or elsewhere: the channel below still works */ }
  try {
    var channel = new BroadcastChannel(data.channel);
    channel.postMessage(message);
    channel.close();
  } catch (e) { /* no BroadcastChannel: the opener polls the session */ }
  document.getElementById("close").addEventListener("click", function () { window.close(); });
  window.setTimeout(function () { window.close(); }, message.status === "succeeded" ? 600 : 8000);
})();
