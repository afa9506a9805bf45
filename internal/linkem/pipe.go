package linkem

import (
	"math/rand/v2"
	"time"
)

// Verdict is what a Pipe decides for one packet.
type Verdict uint8

// Verdicts.
const (
	Deliver   Verdict = iota // release the packet at the returned time
	DropLoss                 // lost by the loss process
	DropQueue                // the queue was full
)

func (v Verdict) String() string {
	switch v {
	case Deliver:
		return "deliver"
	case DropLoss:
		return "drop-loss"
	case DropQueue:
		return "drop-queue"
	}
	return "verdict?"
}

// Pipe is the pure model of one direction of a link: loss, then rate and
// queue, then delay and jitter. It decides each packet's fate from its size
// and arrival time alone. A Pipe is not safe for concurrent use.
type Pipe struct {
	cfg   Config
	loss  lossState
	queue *Queue
	delay delayer
	rng   *rand.Rand
}

// NewPipe returns a Pipe for cfg, or the error of cfg.Validate.
func NewPipe(cfg Config) (*Pipe, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Pipe{
		cfg:   cfg,
		loss:  lossState{Loss: cfg.Loss},
		queue: NewQueue(cfg.Rate, cfg.QueueLimit()),
		delay: delayer{delay: cfg.Delay, jitter: cfg.Jitter},
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x6c696e6b656d)),
	}, nil
}

// Config returns the Pipe's configuration: the one it was built with, or
// the last SetConfig's.
func (p *Pipe) Config() Config { return p.cfg }

// SetConfig changes the Pipe's configuration at now, which must not precede
// the last Admit. It applies to packets admitted from now on; packets
// already admitted keep the release times Admit gave them:
//
//   - Rate and queue: bytes queued before the change drain on their old
//     schedule, and later packets queue behind them at the new rate (see
//     Queue.SetRate). A backlog above a lowered limit is not dropped.
//   - Delay and jitter: new packets get the new delay, but never leave
//     before the last one admitted, so a shorter delay holds them back
//     until the difference has passed (the link never reorders).
//   - Loss: the chain keeps its state (Good or Bad) if the new process is
//     bursty too, and starts Good otherwise.
//   - Seed: ignored; the random source goes on.
//
// It returns the error of cfg.Validate, leaving the Pipe unchanged.
func (p *Pipe) SetConfig(now time.Duration, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.Seed = p.cfg.Seed
	p.cfg = cfg
	p.loss = lossState{Loss: cfg.Loss, bad: p.loss.bad && cfg.Loss.P > 0}
	p.queue.SetRate(now, cfg.Rate, cfg.QueueLimit())
	p.delay.set(cfg.Delay, cfg.Jitter)
	return nil
}

// Admit decides the fate of a packet of size bytes arriving at now. For
// Deliver it also returns the release time, which never precedes that of
// the previous delivered packet. now must not decrease between calls.
func (p *Pipe) Admit(now time.Duration, size int) (time.Duration, Verdict) {
	if p.loss.lose(p.rng) {
		return 0, DropLoss
	}
	departed, ok := p.queue.Enqueue(now, size)
	if !ok {
		return 0, DropQueue
	}
	return p.delay.release(departed, p.rng), Deliver
}

// Backlog returns the bytes in the queue at now.
func (p *Pipe) Backlog(now time.Duration) int { return p.queue.Backlog(now) }
