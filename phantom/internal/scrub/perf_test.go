package scrub
import ("testing";"time";"slices";"fmt";"os";"strconv")
func TestPerfCompare(t *testing.T){
	if os.Getenv("PERF")=="" {t.Skip()}
	var b testing.B
	r0, in := benchInput(&b)
	r1, _ := benchInputEncoded(&b)
	n,_ := strconv.Atoi(os.Getenv("PERF"))
	var d0, d1 []time.Duration
	for range n {
		s:=time.Now(); r0.Replace(in); d0=append(d0,time.Since(s))
		s=time.Now(); r1.Replace(in); d1=append(d1,time.Since(s))
	}
	slices.Sort(d0); slices.Sort(d1)
	fmt.Printf("raw min %v med %v | enc min %v med %v | patterns %d→%d\n", d0[0], d0[n/2], d1[0], d1[n/2], r0.Len(), r1.Len())
}
