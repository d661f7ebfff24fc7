/* SPDX-License-Identifier: MIT */
/*
 * Decoding to PCM: demux and decode the first audio stream of a file and
 * convert it with libswresample to interleaved float32 at the file's own rate
 * and channel count (channel order as FFmpeg's native layouts: for 5.1 that is
 * L R C LFE Ls Rs, the order BS.1770 weights expect). Used by the analysis
 * (loudness) and, later, the stream pipeline's load stage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "media/media.h"
#include "media/media_int.h"

struct lg_decoder {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    int rate;     /* of the output: the stream's first */
    int channels; /* of the output */
    AVChannelLayout out_layout;
    /* What swr takes now: a stream may change layout, sample format or rate
     * from one frame to the next (an MP3 joined from a stereo and a mono
     * file), and swr then gets the new input with the same output. */
    AVChannelLayout in_layout;
    int in_format, in_rate;
    bool flushing; /* the demuxer is done; draining the decoder */
    bool done;
    bool seeking;    /* frames before seek_to are dropped */
    int64_t seek_to; /* in frames */
    int64_t next;    /* the frame the next decoded sample is, when pts is missing */
    float *buf;
    int buf_frames;
};

void lg_decoder_free(struct lg_decoder *d)
{
    if (!d)
        return;
    swr_free(&d->swr);
    av_channel_layout_uninit(&d->out_layout);
    av_channel_layout_uninit(&d->in_layout);
    avcodec_free_context(&d->dec);
    lg_media_close_input(&d->fmt);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_free(d->buf);
    free(d);
}

static int open_codec(struct lg_decoder *d, AVStream *st)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return LG_EMEDIA;
    d->dec = avcodec_alloc_context3(codec);
    if (!d->dec || avcodec_parameters_to_context(d->dec, st->codecpar) < 0)
        return LG_EMEDIA;
    d->dec->pkt_timebase = st->time_base;
    if (avcodec_open2(d->dec, codec, NULL) < 0)
        return LG_EMEDIA;
    AVChannelLayout layout = { 0 };
    if (d->dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&layout, d->dec->ch_layout.nb_channels);
    else if (av_channel_layout_copy(&layout, &d->dec->ch_layout) < 0)
        return -ENOMEM;
    d->rate = d->dec->sample_rate;
    d->channels = layout.nb_channels;
    d->in_format = d->dec->sample_fmt;
    d->in_rate = d->rate;
    int r = swr_alloc_set_opts2(&d->swr, &layout, AV_SAMPLE_FMT_FLT, d->rate, &layout,
                                d->dec->sample_fmt, d->rate, 0, NULL);
    if (r == 0 && av_channel_layout_copy(&d->in_layout, &layout) < 0)
        r = -ENOMEM;
    if (r == 0 && av_channel_layout_copy(&d->out_layout, &layout) < 0)
        r = -ENOMEM;
    av_channel_layout_uninit(&layout);
    if (r < 0 || swr_init(d->swr) < 0)
        return LG_EMEDIA;
    return d->rate > 0 && d->channels > 0 ? 0 : LG_EMEDIA;
}

/* Makes swr take the decoded frame's layout, sample format and rate when
 * they are not what it takes now. */
static int follow_input(struct lg_decoder *d)
{
    const AVFrame *f = d->frame;
    int channels = f->ch_layout.nb_channels;
    if (channels <= 0 || f->sample_rate <= 0 || f->format < 0)
        return LG_EMEDIA;
    AVChannelLayout in = { 0 };
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&in, channels);
    else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
        return -ENOMEM;
    if (d->swr && f->format == d->in_format && f->sample_rate == d->in_rate &&
        av_channel_layout_compare(&in, &d->in_layout) == 0)
    {
        av_channel_layout_uninit(&in);
        return 0;
    }
    swr_free(&d->swr);
    int r = swr_alloc_set_opts2(&d->swr, &d->out_layout, AV_SAMPLE_FMT_FLT, d->rate, &in,
                                (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
    if (r == 0 && swr_init(d->swr) < 0)
        r = LG_EMEDIA;
    if (r < 0)
        swr_free(&d->swr); /* none: the next frame tries again */
    av_channel_layout_uninit(&d->in_layout);
    d->in_layout = in; /* taken */
    d->in_format = f->format;
    d->in_rate = f->sample_rate;
    return r < 0 ? LG_EMEDIA : 0;
}

int lg_decoder_open(const char *path, struct lg_decoder **out, char *err, size_t err_len)
{
    lg_media_init();
    struct lg_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    int r = lg_media_open_input(path, &d->fmt, err, err_len);
    /* Most containers state the codec, rate and channels in their headers
     * (FLAC's STREAMINFO, Ogg's header packets, MP4's sample entries):
     * then the decoder opens at once, and avformat_find_stream_info, which
     * reads and decodes the first packets (milliseconds before a stream's
     * first byte), runs only when the headers say too little. */
    AVStream *st = r == 0 ? lg_media_audio_stream(d->fmt) : NULL;
    const AVCodecParameters *par = st ? st->codecpar : NULL;
    bool told = par && par->codec_id != AV_CODEC_ID_NONE && par->sample_rate > 0 &&
                par->ch_layout.nb_channels > 0 && par->codec_id != AV_CODEC_ID_AAC;
    if (r == 0 && !told) {
        if (avformat_find_stream_info(d->fmt, NULL) < 0)
            r = LG_EMEDIA;
        st = r == 0 ? lg_media_audio_stream(d->fmt) : NULL;
    }
    if (r == 0 && !st)
        r = LG_EMEDIA;
    if (r == 0) {
        d->stream = st->index;
        r = open_codec(d, st);
    }
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (r == 0 && (!d->pkt || !d->frame))
        r = -ENOMEM;
    if (r < 0) {
        if (err && err_len && !*err)
            snprintf(err, err_len, "no decodable audio stream");
        lg_decoder_free(d);
        return r;
    }
    *out = d;
    return 0;
}

int lg_decoder_rate(const struct lg_decoder *d)
{
    return d->rate;
}

int lg_decoder_channels(const struct lg_decoder *d)
{
    return d->channels;
}

/* Feeds the decoder one packet of our stream, or the flush packet at the end
 * of the file. Returns 0 or an AVERROR. */
static int feed(struct lg_decoder *d)
{
    for (;;) {
        int r = av_read_frame(d->fmt, d->pkt);
        if (r == AVERROR_EOF) {
            d->flushing = true;
            return avcodec_send_packet(d->dec, NULL);
        }
        if (r < 0)
            return r;
        bool ours = d->pkt->stream_index == d->stream;
        r = ours ? avcodec_send_packet(d->dec, d->pkt) : 0;
        av_packet_unref(d->pkt);
        /* A damaged packet is skipped: the decoder resynchronises. */
        if (ours && (r == 0 || r == AVERROR_INVALIDDATA))
            return 0;
        if (r < 0)
            return r;
    }
}

/* Where a decoded frame starts, in frames from the stream's start. */
static int64_t frame_start(const struct lg_decoder *d)
{
    const AVStream *st = d->fmt->streams[d->stream];
    int64_t pts = d->frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE)
        return d->next;
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    return av_rescale_q(pts - start, st->time_base, (AVRational){ 1, d->rate });
}

static int convert(struct lg_decoder *d, const float **pcm)
{
    int n = d->frame->nb_samples;
    int64_t at = frame_start(d);
    int skip = 0;
    if (d->seeking) {
        if (at + n <= d->seek_to) {
            av_frame_unref(d->frame);
            d->next = at + n;
            return 0; /* wholly before the target */
        }
        skip = at < d->seek_to ? (int)(d->seek_to - at) : 0;
        d->seeking = false;
    }
    d->next = at + n;
    int r = follow_input(d);
    if (r < 0) {
        av_frame_unref(d->frame);
        return r;
    }
    int cap = swr_get_out_samples(d->swr, n); /* n, unless the input rate changed */
    if (cap < n)
        cap = n;
    if (cap > d->buf_frames) {
        av_free(d->buf);
        d->buf = av_malloc((size_t)cap * (size_t)d->channels * sizeof(float));
        d->buf_frames = d->buf ? cap : 0;
        if (!d->buf) {
            av_frame_unref(d->frame);
            return -ENOMEM;
        }
    }
    uint8_t *outp[1] = { (uint8_t *)d->buf };
    int got = swr_convert(d->swr, outp, cap, (const uint8_t **)d->frame->extended_data, n);
    av_frame_unref(d->frame);
    if (got < 0)
        return LG_EMEDIA;
    if (skip >= got)
        return 0;
    *pcm = d->buf + (size_t)skip * (size_t)d->channels;
    return got - skip;
}

int lg_decoder_read(struct lg_decoder *d, const float **pcm)
{
    while (!d->done) {
        int r = avcodec_receive_frame(d->dec, d->frame);
        if (r == 0) {
            r = convert(d, pcm);
            if (r != 0)
                return r;
            continue; /* a frame that converted to nothing */
        }
        if (r == AVERROR_EOF) {
            d->done = true;
            break;
        }
        if (r != AVERROR(EAGAIN) && r != AVERROR_INVALIDDATA)
            return LG_EMEDIA;
        if (d->flushing) {
            d->done = true;
            break;
        }
        r = feed(d);
        if (r < 0 && r != AVERROR_INVALIDDATA)
            return r == AVERROR(ENOMEM) ? -ENOMEM : LG_EMEDIA;
    }
    return 0;
}

int lg_decoder_seek(struct lg_decoder *d, int64_t frame)
{
    if (frame < 0)
        return LG_EINVAL;
    AVStream *st = d->fmt->streams[d->stream];
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    int64_t ts = start + av_rescale_q(frame, (AVRational){ 1, d->rate }, st->time_base);
    /* At or before the target; failing that, from the start (decoding up to
     * the target is slower but as exact). */
    if (av_seek_frame(d->fmt, d->stream, ts, AVSEEK_FLAG_BACKWARD) < 0 &&
        av_seek_frame(d->fmt, d->stream, start, AVSEEK_FLAG_BACKWARD) < 0)
        return LG_EMEDIA;
    avcodec_flush_buffers(d->dec);
    swr_convert(d->swr, NULL, 0, NULL, 0);
    d->flushing = false;
    d->done = false;
    d->seeking = frame > 0;
    d->seek_to = frame;
    d->next = 0;
    return 0;
}

int64_t lg_decoder_frames(const struct lg_decoder *d)
{
    const AVStream *st = d->fmt->streams[d->stream];
    if (st->duration > 0 && st->duration != AV_NOPTS_VALUE)
        return av_rescale_q(st->duration, st->time_base, (AVRational){ 1, d->rate });
    if (d->fmt->duration > 0 && d->fmt->duration != AV_NOPTS_VALUE)
        return av_rescale(d->fmt->duration, d->rate, AV_TIME_BASE);
    return -1;
}
