package named

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestTable(t *testing.T) {
	tab := New(map[string]int{"b": 2})
	if !tab.Add("a", 1) {
		t.Fatal("Add(a) = false; want true")
	}
	if tab.Add("b", 3) {
		t.Error("Add(b) again = true; want false")
	}
	if v, ok := tab.Get("b"); !ok || v != 2 {
		t.Errorf("Get(b) = %d, %v; want 2, true (the first value stays)", v, ok)
	}
	if _, ok := tab.Get("c"); ok {
		t.Error("Get(c) found an unregistered name")
	}
	if got := tab.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names() = %v; want [a b]", got)
	}
}

func TestTable_ConcurrentAdd(t *testing.T) {
	tab := New[int](nil)
	const n = 16
	var wg sync.WaitGroup
	wins := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wins[i] = tab.Add("same", i)
			tab.Add(fmt.Sprint("own", i), i)
			tab.Names()
		}()
	}
	wg.Wait()
	won := 0
	for _, w := range wins {
		if w {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent Adds of one name succeeded; want 1", won)
	}
	if got := len(tab.Names()); got != n+1 {
		t.Errorf("len(Names()) = %d; want %d", got, n+1)
	}
}
