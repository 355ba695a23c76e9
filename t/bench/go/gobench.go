// gobench - the Go side of grun's runtime benchmarks (t/bench/run).
//
//	gobench <name> <n>
//
// runs one workload once and prints a single line "<value> <unit>" on
// stdout (unit ns, us, ms or B); errors go to stderr with exit status 1.
// The same workloads, written against runtime/rt.h, are in
// t/bench/rtbench.c; keep the two in step.
//
//	yield             two goroutines each calling runtime.Gosched() n/2 times,
//	                  1 P; ns per yield (total / n)
//	chan_roundtrip    unbuffered round trip to an echo goroutine, 1 P;
//	                  ns per round trip (n round trips)
//	chan_buffered_1p  one producer, one consumer, cap 1024, 1 P;
//	chan_buffered_2p  the same with 2 Ps; ns per element (n elements)
//	spawn             go func(){ wg.Done() } in batches of 1000, 1 P;
//	                  ns per goroutine (n goroutines)
//	skynet            tree of n leaf goroutines (n a power of 10), 10
//	                  children each, sums through channels, all Ps; ms
//	mem_parked        n goroutines parked on a channel receive, 1 P;
//	                  resident bytes per goroutine (VmRSS delta / n)
//	fairness_select   four producers each keep a cap-16 channel full while
//	                  one consumer selects over the four, n ms, 1 P; the
//	                  longest time any producer went without a send, us
//	fairness_sleep    a ping-pong pair on an unbuffered channel runs while
//	                  a third goroutine sleeps 100 ms at a time, n ms, 1 P;
//	                  the worst lateness of a sleep, us
//	fairness_compute  the same with two goroutines computing (no calls)
//	                  instead of the pair; us
//
// Built by t/bench/run with GO111MODULE=off: no module, standard library
// only.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gobench: "+format+"\n", a...)
	os.Exit(1)
}

func benchYield(n int) (float64, string) {
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	half := n / 2
	wg.Add(2)
	start := time.Now()
	for j := 0; j < 2; j++ {
		go func() {
			for i := 0; i < half; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return float64(el.Nanoseconds()) / float64(2*half), "ns"
}

func benchRoundtrip(n int) (float64, string) {
	runtime.GOMAXPROCS(1)
	ch := make(chan int)
	done := make(chan struct{})
	go func() { // echo
		for v := range ch {
			ch <- v
		}
		close(done)
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		ch <- i
		if v := <-ch; v != i {
			die("chan_roundtrip: sent %d, got back %d", i, v)
		}
	}
	el := time.Since(start)
	close(ch)
	<-done
	return float64(el.Nanoseconds()) / float64(n), "ns"
}

func benchBuffered(n, procs int) (float64, string) {
	runtime.GOMAXPROCS(procs)
	ch := make(chan int, 1024)
	var wg sync.WaitGroup
	var sum int
	wg.Add(2)
	start := time.Now()
	go func() { // producer
		for i := 0; i < n; i++ {
			ch <- i
		}
		wg.Done()
	}()
	go func() { // consumer
		s := 0
		for i := 0; i < n; i++ {
			s += <-ch
		}
		sum = s
		wg.Done()
	}()
	wg.Wait()
	el := time.Since(start)
	if want := n * (n - 1) / 2; sum != want {
		die("chan_buffered: sum %d, want %d", sum, want)
	}
	return float64(el.Nanoseconds()) / float64(n), "ns"
}

func benchSpawn(n int) (float64, string) {
	runtime.GOMAXPROCS(1)
	const batch = 1000
	var wg sync.WaitGroup
	done := 0
	start := time.Now()
	for done < n {
		b := batch
		if n-done < b {
			b = n - done
		}
		wg.Add(b)
		for i := 0; i < b; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		done += b
	}
	el := time.Since(start)
	return float64(el.Nanoseconds()) / float64(n), "ns"
}

func skynet(c chan<- int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sub := size / div
	for i := 0; i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func benchSkynet(n int) (float64, string) {
	// GOMAXPROCS left at its default: all CPUs.
	for m := n; m > 1; m /= 10 {
		if m%10 != 0 {
			die("skynet: n=%d is not a power of 10", n)
		}
	}
	c := make(chan int)
	start := time.Now()
	go skynet(c, 0, n, 10)
	sum := <-c
	el := time.Since(start)
	if want := n * (n - 1) / 2; sum != want {
		die("skynet: sum %d, want %d", sum, want)
	}
	return float64(el.Nanoseconds()) / 1e6, "ms"
}

// rssBytes reads VmRSS from /proc/self/status.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		die("%v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fs := strings.Fields(line)
			if len(fs) >= 2 {
				kb, err := strconv.ParseInt(fs[1], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	die("no VmRSS in /proc/self/status")
	return 0
}

func benchMemParked(n int) (float64, string) {
	runtime.GOMAXPROCS(1)
	ch := make(chan int)
	var parked, exited sync.WaitGroup
	runtime.GC()
	debug.FreeOSMemory()
	before := rssBytes()
	parked.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			parked.Done()
			<-ch
			exited.Done()
		}()
	}
	parked.Wait()
	// Let the last ones reach their receive and park.
	for i := 0; i < 10; i++ {
		runtime.Gosched()
	}
	after := rssBytes()
	close(ch)
	exited.Wait()
	return float64(after-before) / float64(n), "B"
}

// fairWorst raises *w to v.
func fairWorst(mu *sync.Mutex, w *time.Duration, v time.Duration) {
	mu.Lock()
	if v > *w {
		*w = v
	}
	mu.Unlock()
}

func benchFairSelect(n int) (float64, string) {
	runtime.GOMAXPROCS(1)
	const producers = 4
	until := time.Now().Add(time.Duration(n) * time.Millisecond)
	var mu sync.Mutex
	var worst time.Duration
	var wg sync.WaitGroup
	chs := make([]chan int, producers)
	for i := range chs {
		chs[i] = make(chan int, 16)
	}
	wg.Add(producers + 1)
	for i := 0; i < producers; i++ {
		go func(ch chan int) {
			defer wg.Done()
			defer func() {
				recover() // send on the closed channel ends the producer
			}()
			last, gap := time.Now(), time.Duration(0)
			defer func() { fairWorst(&mu, &worst, gap) }()
			for v := 0; ; v++ {
				ch <- v
				now := time.Now()
				if now.Sub(last) > gap {
					gap = now.Sub(last)
				}
				last = now
			}
		}(chs[i])
	}
	go func() {
		for time.Now().Before(until) {
			select {
			case <-chs[0]:
			case <-chs[1]:
			case <-chs[2]:
			case <-chs[3]:
			}
		}
		for _, ch := range chs {
			close(ch)
		}
		wg.Done()
	}()
	wg.Wait()
	return float64(worst.Nanoseconds()) / 1e3, "us"
}

// benchFairLoad runs load (which must return once stop is set) while this
// goroutine sleeps 100 ms at a time for n ms; the worst lateness.
func benchFairLoad(n int, nload int, load func(stop *int32)) (float64, string) {
	runtime.GOMAXPROCS(1)
	const nap = 100 * time.Millisecond
	until := time.Now().Add(time.Duration(n) * time.Millisecond)
	var stop int32
	var wg sync.WaitGroup
	wg.Add(nload)
	for i := 0; i < nload; i++ {
		go func() {
			load(&stop)
			wg.Done()
		}()
	}
	var worst time.Duration
	for time.Now().Before(until) {
		t := time.Now()
		time.Sleep(nap)
		if late := time.Since(t) - nap; late > worst {
			worst = late
		}
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	return float64(worst.Nanoseconds()) / 1e3, "us"
}

func benchFairSleep(n int) (float64, string) {
	return benchFairLoad(n, 1, func(stop *int32) {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		for v := 0; atomic.LoadInt32(stop) == 0; v++ {
			ping <- v
			<-pong
		}
		close(ping)
	})
}

func benchFairCompute(n int) (float64, string) {
	return benchFairLoad(n, 2, func(stop *int32) {
		x := uint64(1)
		for atomic.LoadInt32(stop) == 0 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		sink = x
	})
}

var sink uint64

func main() {
	if len(os.Args) != 3 {
		die("usage: gobench <name> <n>")
	}
	name := os.Args[1]
	nf, err := strconv.ParseFloat(os.Args[2], 64) // accepts 1e6
	n := int(nf)
	if err != nil || n < 1 || float64(n) != nf {
		die("bad count %q", os.Args[2])
	}
	var v float64
	var unit string
	switch name {
	case "yield":
		v, unit = benchYield(n)
	case "chan_roundtrip":
		v, unit = benchRoundtrip(n)
	case "chan_buffered_1p":
		v, unit = benchBuffered(n, 1)
	case "chan_buffered_2p":
		v, unit = benchBuffered(n, 2)
	case "spawn":
		v, unit = benchSpawn(n)
	case "skynet":
		v, unit = benchSkynet(n)
	case "mem_parked":
		v, unit = benchMemParked(n)
	case "fairness_select":
		v, unit = benchFairSelect(n)
	case "fairness_sleep":
		v, unit = benchFairSleep(n)
	case "fairness_compute":
		v, unit = benchFairCompute(n)
	default:
		die("unknown benchmark %q", name)
	}
	if unit == "B" {
		fmt.Printf("%.0f %s\n", v, unit)
	} else {
		fmt.Printf("%.1f %s\n", v, unit)
	}
}
