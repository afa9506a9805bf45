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

// Config returns the configuration the Pipe was built with.
func (p *Pipe) Config() Config { return p.cfg }

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
