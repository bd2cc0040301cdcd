// The job page's preview (and the demo's player page): plays the video's master playlist with hls.js
// (or the browser's own HLS, as Safari has), lists its levels and audio, its chapters, shows its captions
// when the master has some, and lays out the storyboard's tiles. The <video> element's data-state says
// where it is: loading, playing, failed or unsupported; its data-missing-hls says what to do without hls.js.
(function () {
  "use strict";
  var video = document.getElementById("preview-video");
  if (!video) { return; }
  var facts = document.getElementById("preview-facts");

  function say(text, state) {
    facts.textContent = text;
    if (state) { video.setAttribute("data-state", state); }
  }

  video.addEventListener("playing", function () { video.setAttribute("data-state", "playing"); });

  var master = video.getAttribute("data-master");
  if (window.Hls && window.Hls.isSupported()) {
    var hls = new window.Hls();
    var levelsFact = "", captionsFact = "";  // the facts line: levels and audio, then captions
    hls.on(window.Hls.Events.MANIFEST_PARSED, function (_, data) {
      var levels = data.levels.map(function (level) {
        return level.height + "p (" + Math.round(level.bitrate / 1000) + " kb/s)";
      });
      levelsFact = "hls.js " + window.Hls.version + ": " + levels.join(", ") +
          (data.audioTracks && data.audioTracks.length ? "; shared audio track" : "; no audio");
      say(levelsFact + captionsFact);
      video.play().catch(function () { /* autoplay refused: the controls are there */ });
    });
    // Captions (CONTRACT 4a's SUBTITLES group): listed once hls.js has read them, and the first one shown once
    // the video plays, as a learner would switch it on (hls.js resets a choice made before the media is ready).
    hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, function (_, data) {
      var names = data.subtitleTracks.map(function (track) { return track.name + " (" + track.lang + ")"; });
      captionsFact = names.length ? "; captions: " + names.join(", ") : "";
      say(levelsFact + captionsFact);
    });
    video.addEventListener("playing", function () {
      if (hls.subtitleTracks.length && hls.subtitleTrack < 0) {
        hls.subtitleDisplay = true;
        hls.subtitleTrack = 0;
      }
    }, {once: true});
    // hls.js hands over the master's SESSION-DATA but does not fetch it: the chapters are fetched here.
    hls.on(window.Hls.Events.MANIFEST_LOADED, function (_, data) {
      var chapters = data.sessionData && data.sessionData["com.apple.hls.chapters"];
      if (chapters && chapters.URI) { listChapters(new URL(chapters.URI, data.url).href); }
    });
    hls.on(window.Hls.Events.ERROR, function (_, data) {
      if (data.fatal) { say("The player failed: " + data.details, "failed"); }
    });
    hls.loadSource(master);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = master;
    say("Playing with the browser's own HLS.");
  } else {
    say(window.Hls ? "This browser cannot play HLS." : (video.getAttribute("data-missing-hls") ||
        "hls.js is not installed on this server (run npm ci, see docs/DEPLOYMENT.md)."), "unsupported");
    return;
  }

  // Apple's JSON chapters: a button per chapter (its slide, start and title) that seeks the video there.
  function listChapters(url) {
    var list = document.getElementById("preview-chapters");
    fetch(url, {credentials: "same-origin"}).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    }).then(function (chapters) {
      chapters.forEach(function (chapter) {
        var start = chapter["start-time"];
        var button = document.createElement("button");
        button.type = "button";
        button.setAttribute("data-start", String(start));
        var image = (chapter.images || [])[0];
        if (image) {
          var picture = document.createElement("img");
          picture.src = new URL(image.url, url).href;
          picture.alt = "";
          button.appendChild(picture);
        }
        var title = (chapter.titles || [])[0] || {title: "Chapter " + chapter.chapter, language: "und"};
        var words = document.createElement("span");
        words.lang = title.language;
        words.textContent = Math.floor(start / 60) + ":" + String(Math.floor(start % 60)).padStart(2, "0") +
          " " + title.title;
        button.appendChild(words);
        button.addEventListener("click", function () { video.currentTime = start; });
        var item = document.createElement("li");
        item.appendChild(button);
        list.appendChild(item);
      });
      list.setAttribute("data-chapters", String(chapters.length));
    }).catch(function (error) {
      list.setAttribute("data-chapters", "failed: " + error);
    });
  }

  // Scrubbing previews: the browser's WebVTT parser reads the cues; each tile is a piece of a sprite sheet.
  var track = document.createElement("track");
  track.kind = "metadata";
  track.src = video.getAttribute("data-storyboard");
  track.addEventListener("load", function () {
    var strip = document.getElementById("preview-storyboard");
    var cues = track.track.cues;
    for (var index = 0; index < cues.length; index += 1) {
      var parts = cues[index].text.split("#xywh=");
      var box = parts[1].split(",").map(Number);
      var tile = document.createElement("div");
      tile.className = "tile";
      tile.style.width = box[2] + "px";
      tile.style.height = box[3] + "px";
      tile.style.backgroundImage = "url('" + new URL(parts[0], track.src).href + "')";
      tile.style.backgroundPosition = "-" + box[0] + "px -" + box[1] + "px";
      tile.title = cues[index].startTime.toFixed(0) + "-" + cues[index].endTime.toFixed(0) + " s";
      strip.appendChild(tile);
    }
    strip.setAttribute("data-tiles", String(cues.length));
  });
  video.appendChild(track);
  track.track.mode = "hidden";
})();
